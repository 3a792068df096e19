-- wrk script of bench/run.sh: the URL patterns of the scan benchmarks, exact status counts, and a clean stop.
--
--   [BENCH_PAUSE_MS=N] wrk -t T -c C -d LIMIT --latency -s bench/lib/scan.lua URL -- MODE PREFIX COUNT WIDTH SECONDS THREADS MARKER_DIR
--
--   BENCH_PAUSE_MS  (environment, optional) each connection waits this long after an answer before its next
--             request: the load is then paced below what the server could take. An environment variable, not an
--             argument, because wrk decides from the script as loaded, before init() sees the arguments, whether
--             delay() exists, and a delay() that returns 0 still costs an event-loop turn per request (about 5 %
--             of the baseline's req/s, with a higher p99)
--
--   MODE random  GET /r/<PREFIX><n> with n uniform in [0, COUNT), zero-padded to WIDTH digits, for SECONDS
--        one     GET /r/<PREFIX> (one code: the hot code), for SECONDS
--        clients the same as random, each request from one of 20,000 public IPv4 addresses (X-Forwarded-For: the
--                gateway must trust 127.0.0.1 as a proxy) with one of a dozen real user agents (a bot among them),
--                so that geolocation, user-agent parsing, per-address throttling and unique-visitor sketches
--                see traffic like a real audience's instead of one client
--        walk    GET /r/<PREFIX><n> for every n in [0, COUNT) exactly once, spread over the threads
--                (thread k takes k-1, k-1+T, ...), then stop: the first pass over codes. SECONDS is its
--                time budget: past it the walk stops (cleanly) where it is
--
-- Why not just `wrk -d`: when wrk's duration ends it drops the requests still in flight, which the server
-- has already answered and recorded, so "302s seen by wrk" and "rows written" could never be compared
-- exactly. Here each thread stops issuing real requests at its deadline (or when its walk is done), waits
-- for the answers of every request it has sent, and then stops itself (wrk.thread:stop()). Connections that
-- ask for a request after the deadline get an unfinished one (no blank line after the headers): the server
-- waits for the rest and never answers it, so nothing after the deadline is recorded or measured. When its
-- last answer is in, the thread drops a file into MARKER_DIR so that run.sh can end wrk (SIGINT) at once
-- instead of waiting for wrk's -d, which is only a safety limit.
--
-- done() prints one line "BENCH key=value ..." with: answered requests per status, req/s over the real
-- measured window (first request to last answer, CLOCK_MONOTONIC via LuaJIT's ffi), and wrk's exact latency
-- percentiles (µs) of exactly those answers.

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clk_id, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")
local function now_us()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC: one clock for all threads of the process
  return tonumber(ts.tv_sec) * 1000000 + math.floor(tonumber(ts.tv_nsec) / 1000)
end

local user_agent = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
  .. "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"

-- The "clients" mode's audience: mostly phones, some desktops, one crawler.
local user_agents = {
  user_agent,
  "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36",
  "Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/123.0.6312.52 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (Linux; Android 12; moto g(60)) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Mobile Safari/537.36",
  "Mozilla/5.0 (iPad; CPU OS 17_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
  "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:124.0) Gecko/20100101 Firefox/124.0",
  "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
}
-- First octets of networks allocated to ISPs on every continent, so that most addresses have a country.
local first_octets = { 2, 5, 24, 31, 37, 41, 46, 62, 66, 71, 77, 78, 81, 82, 84, 86, 88, 89, 91, 93, 95, 98, 101,
  103, 109, 110, 112, 114, 118, 121, 122, 124, 151, 171, 175, 176, 177, 178, 179, 181, 186, 187, 189, 190, 196,
  197, 200, 201, 203, 210, 212, 213, 217, 218, 220, 222 }

-- ---------------------------------------------------------------- setup phase (its own Lua state)
local all_threads = {}
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("id", thread_count)
  table.insert(all_threads, thread)
end

-- ---------------------------------------------------------------- running phase (one Lua state per thread)
-- Globals so that done() can read them with thread:get().
statuses = {}
issued = 0
answered = 0
first_us = 0
last_us = 0
finished = false

local mode, prefix, count, width, seconds, threads, marker_dir
local deadline
local draining = false
local next_index
local prebuilt
local unfinished_request
local verified = false

local function path_of(n)
  return "/r/" .. prefix .. string.format("%0" .. width .. "d", n)
end

function init(args)
  mode, prefix = args[1], args[2]
  count, width, seconds, threads = tonumber(args[3]), tonumber(args[4]), tonumber(args[5]), tonumber(args[6])
  marker_dir = args[7]
  if not (mode and prefix and count and width and seconds and threads and marker_dir) then
    error("usage: -- MODE PREFIX COUNT WIDTH SECONDS THREADS MARKER_DIR")
  end
  wrk.headers["User-Agent"] = user_agent
  wrk.headers["Accept"] = "*/*"
  id = id or 1
  math.randomseed((now_us() % 1000000007) + id * 7919)
  next_index = id - 1
  deadline = now_us() + seconds * 1000000
  unfinished_request = "GET /r/" .. prefix .. "-drain HTTP/1.1\r\nHost: " .. (wrk.headers["Host"] or wrk.host) .. "\r\n"
  if mode == "random" and count <= 200000 then
    -- Building a request costs a few µs; prebuild them when there are not too many.
    prebuilt = {}
    for n = 0, count - 1 do prebuilt[n + 1] = wrk.format("GET", path_of(n)) end
  elseif mode == "one" then
    prebuilt = { wrk.format("GET", "/r/" .. prefix) }
  elseif mode == "clients" then
    -- 50,000 prebuilt requests per thread, each a random code, address and user agent, sent in random order.
    local addresses = {}
    for i = 1, 20000 do
      addresses[i] = string.format("%d.%d.%d.%d", first_octets[math.random(#first_octets)],
        math.random(0, 255), math.random(0, 255), math.random(1, 254))
    end
    prebuilt = {}
    for i = 1, 50000 do
      prebuilt[i] = wrk.format("GET", path_of(math.random(0, count - 1)), {
        ["Host"] = wrk.headers["Host"] or wrk.host, ["Accept"] = "*/*",
        ["User-Agent"] = user_agents[math.random(#user_agents)],
        ["X-Forwarded-For"] = addresses[math.random(#addresses)],
      })
    end
  end
end

local function finish()
  if finished then return end
  finished = true
  last_us = now_us()
  local marker = io.open(marker_dir .. "/done." .. id, "w")
  if marker then marker:write(tostring(answered)); marker:close() end
  wrk.thread:stop()
end

function request()
  if not verified then
    -- wrk calls request() once on its first thread before the run, only to check that the request parses
    -- (script_verify_request): answer it, but it is never sent, so it is not counted and takes no code.
    verified = true
    if id == 1 then return wrk.format("GET", "/r/" .. prefix .. "-verify") end
  end
  if not draining then
    if mode == "walk" and next_index >= count then
      draining = true
    elseif now_us() >= deadline then
      draining = true
    end
  end
  if draining then
    if answered >= issued then finish() end
    return unfinished_request
  end
  if issued == 0 then first_us = now_us() end
  issued = issued + 1
  if mode == "walk" then
    local n = next_index
    next_index = next_index + threads
    return wrk.format("GET", path_of(n))
  elseif mode == "one" then
    return prebuilt[1]
  elseif prebuilt then
    return prebuilt[math.random(#prebuilt)]
  else
    return wrk.format("GET", path_of(math.random(0, count - 1)))
  end
end

-- Defined only for a paced run (see BENCH_PAUSE_MS above). The pause is not part of the measured latency.
local pause_ms = tonumber(os.getenv("BENCH_PAUSE_MS") or "") or 0
if pause_ms > 0 then
  function delay()
    return draining and 0 or pause_ms
  end
end

function response(status, headers, body)
  answered = answered + 1
  statuses[status] = (statuses[status] or 0) + 1
  if not draining and now_us() >= deadline then draining = true end
  if draining and answered >= issued then finish() end
end

-- ---------------------------------------------------------------- done phase (the setup state again)
function done(summary, latency, requests)
  local by_status = {}
  local total_answered, total_issued = 0, 0
  local first, last = nil, 0
  local all_finished = true
  for _, thread in ipairs(all_threads) do
    local s = thread:get("statuses") or {}
    for status, n in pairs(s) do by_status[status] = (by_status[status] or 0) + n end
    total_answered = total_answered + (thread:get("answered") or 0)
    total_issued = total_issued + (thread:get("issued") or 0)
    local f, l = thread:get("first_us") or 0, thread:get("last_us") or 0
    if f > 0 and (first == nil or f < first) then first = f end
    if l > last then last = l end
    if not thread:get("finished") then all_finished = false end
  end
  local window_us = (first and last > first) and (last - first) or summary.duration
  local other = total_answered
  for _, s in ipairs({ 200, 302, 404, 410, 429, 503 }) do other = other - (by_status[s] or 0) end
  local e = summary.errors
  io.write(string.format(
    "BENCH answered=%d issued=%d s302=%d s200=%d s404=%d s410=%d s429=%d s503=%d other=%d "
      .. "window_us=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d mean_us=%.1f "
      .. "clean_stop=%s err_connect=%d err_read=%d err_write=%d err_timeout=%d wrk_requests=%d wrk_duration_us=%d\n",
    total_answered, total_issued, by_status[302] or 0, by_status[200] or 0, by_status[404] or 0, by_status[410] or 0,
    by_status[429] or 0, by_status[503] or 0, other,
    window_us, total_answered / (window_us / 1000000),
    math.floor(latency:percentile(50)), math.floor(latency:percentile(90)), math.floor(latency:percentile(99)),
    math.floor(latency:percentile(99.9)), math.floor(latency.max), latency.mean,
    tostring(all_finished), e.connect, e.read, e.write, e.timeout, summary.requests, summary.duration))
end
