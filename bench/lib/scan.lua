-- wrk script of bench/run.sh: the URL patterns of the scan benchmarks, exact status counts, and a clean stop.
--
--   [BENCH_PAUSE_MS=X] wrk -t T -c C -d LIMIT --latency -s bench/lib/scan.lua URL -- MODE PREFIX COUNT WIDTH SECONDS THREADS MARKER_DIR [ZIPF_S]
--
--   BENCH_PAUSE_MS  (environment, optional) each connection waits this long after an answer before its next
--             request: the load is then paced below what the server could take. A fraction is kept on average
--             (wrk's timers count whole ms: each pause is the floor or the ceiling, at random). An environment
--             variable, not an argument, because wrk decides from the script as loaded, before init() sees the
--             arguments, whether delay() exists, and a delay() that returns 0 still costs an event-loop turn per
--             request (about 5 % of the baseline's req/s, with a higher p99)
--
--   MODE random  GET /r/<PREFIX><n> with n uniform in [0, COUNT), zero-padded to WIDTH digits, for SECONDS
--        one     GET /r/<PREFIX> (one code: the hot code), for SECONDS
--        clients the same as random, each request from one of the audience's 40,000 clients (below)
--        mix     the realistic mix: n drawn Zipf-like over [0, COUNT) (P(rank k) ~ k^-ZIPF_S, rank 1 = n 0: a few
--                codes take most scans, most codes are scanned rarely), each request from one of the 40,000
--                clients, for SECONDS. Every request is built when sent (about 1.5 µs of Lua), so the codes
--                follow the distribution for the whole run instead of repeating a prebuilt sample
--        walk    GET /r/<PREFIX><n> for every n in [0, COUNT) exactly once, spread over the threads
--                (thread k takes k-1, k-1+T, ...), then stop: the first pass over codes. SECONDS is its
--                time budget: past it the walk stops (cleanly) where it is
--
--   The audience of "clients" and "mix": 40,000 client addresses (the same in every thread and run: a fixed
--   seed), three in four IPv4 and one in four IPv6, from networks of ISPs on every continent, sent as
--   X-Forwarded-For (the gateway must trust 127.0.0.1 as a proxy). Each client keeps one user agent, drawn
--   from real ones by weight: phones 70 %, desktops 15 %, tablets 5 %, crawlers and link previewers 10 %.
--   Geolocation, user-agent parsing, per-address throttling and unique-visitor sketches then see traffic like
--   a real audience's instead of one client's.
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

-- The audience's user agents, with their weight per mille: 700 phones (browsers and in-app web views), 150
-- desktops, 50 tablets, 100 crawlers and link previewers (each one the product's classifier calls a bot).
local weighted_user_agents = {
  { 200, user_agent },
  { 60, "Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1" },
  { 30, "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/123.0.6312.52 Mobile/15E148 Safari/604.1" },
  { 30, "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Instagram 327.0.2.30.93 (iPhone14,5; iOS 17_4_1; en_US; en; scale=3.00; 1170x2532; 587318137)" },
  { 120, "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36" },
  { 60, "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36" },
  { 60, "Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36" },
  { 30, "Mozilla/5.0 (Linux; Android 13; SM-A536B Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/123.0.6312.118 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/459.0.0.38.108;]" },
  { 40, "Mozilla/5.0 (Linux; U; Android 13; en-us; 2201117TG Build/TKQ1.221114.001) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/112.0.5615.136 Mobile Safari/537.36 XiaoMi/MiuiBrowser/14.8.1-gn" },
  { 30, "Mozilla/5.0 (Linux; Android 12; moto g(60)) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Mobile Safari/537.36" },
  { 20, "Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0" },
  { 20, "Mozilla/5.0 (Linux; Android 11; CPH2239) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Mobile Safari/537.36 OPR/81.0.4292.78874" },
  { 30, "Mozilla/5.0 (iPad; CPU OS 17_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Mobile/15E148 Safari/604.1" },
  { 12, "Mozilla/5.0 (Linux; Android 13; SM-X200) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36" },
  { 8, "Mozilla/5.0 (Linux; Android 11; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/124.2.1 like Chrome/124.0.6367.82 Safari/537.36" },
  { 55, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36" },
  { 25, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51" },
  { 25, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15" },
  { 20, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36" },
  { 15, "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:124.0) Gecko/20100101 Firefox/124.0" },
  { 10, "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0" },
  { 20, "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)" },
  { 15, "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)" },
  { 10, "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)" },
  { 10, "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)" },
  { 10, "WhatsApp/2.23.20.0" },
  { 8, "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)" },
  { 7, "Twitterbot/1.0" },
  { 5, "TelegramBot (like TwitterBot)" },
  { 5, "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)" },
  { 5, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)" },
  { 5, "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)" },
}
local client_count = 40000
-- First octets of IPv4 networks allocated to ISPs on every continent, and the first 16 bits of IPv6 blocks of
-- the five registries (2a0x RIPE, 260x ARIN, 240x APNIC, 280x LACNIC, 2c0f AFRINIC), so most have a country.
local first_octets = { 2, 5, 24, 31, 37, 41, 46, 62, 66, 71, 77, 78, 81, 82, 84, 86, 88, 89, 91, 93, 95, 98, 101,
  103, 109, 110, 112, 114, 118, 121, 122, 124, 151, 171, 175, 176, 177, 178, 179, 181, 186, 187, 189, 190, 196,
  197, 200, 201, 203, 210, 212, 213, 217, 218, 220, 222 }
local ipv6_prefixes = { 0x2a00, 0x2a01, 0x2a02, 0x2a03, 0x2a04, 0x2a05, 0x2600, 0x2601, 0x2602, 0x2603, 0x2604,
  0x2605, 0x2606, 0x2607, 0x2400, 0x2401, 0x2402, 0x2403, 0x2404, 0x2405, 0x2406, 0x2407, 0x2408, 0x2409, 0x2800,
  0x2801, 0x2803, 0x2804, 0x2c0f }

-- The audience: client_count (address, user agent) pairs, the same in every thread (a fixed seed; the caller
-- reseeds afterwards). Each entry is the tail of a request: its headers after Host, and the blank line.
local function audience()
  math.randomseed(20261204)
  local total = 0
  for _, w in ipairs(weighted_user_agents) do total = total + w[1] end
  local clients = {}
  for i = 1, client_count do
    local address
    if math.random(4) == 1 then
      address = string.format("%x:%x:%x:%x::%x", ipv6_prefixes[math.random(#ipv6_prefixes)], math.random(0, 0xffff),
        math.random(0, 0xffff), math.random(0, 0xffff), math.random(1, 0xffff))
    else
      address = string.format("%d.%d.%d.%d", first_octets[math.random(#first_octets)],
        math.random(0, 255), math.random(0, 255), math.random(1, 254))
    end
    local pick, ua = math.random(total), nil
    for _, w in ipairs(weighted_user_agents) do
      pick = pick - w[1]
      if pick <= 0 then ua = w[2]; break end
    end
    clients[i] = "Accept: */*\r\nUser-Agent: " .. ua .. "\r\nX-Forwarded-For: " .. address .. "\r\n\r\n"
  end
  return clients
end

-- Zipf-like ranks by rejection-inversion (Hörmann and Derflinger 1996): O(1) per draw, no table, exact
-- P(k) ~ k^-s over 1..n (s > 0, s ≠ 1). H is the integral of x^-s, H_inv its inverse.
local function zipf(s, n)
  local function H(x) return (x ^ (1 - s) - 1) / (1 - s) end
  local function H_inv(y) return (1 + y * (1 - s)) ^ (1 / (1 - s)) end
  local function h(x) return x ^ -s end
  local h_x1, h_n = H(1.5) - 1, H(n + 0.5)
  local squeeze = 2 - H_inv(H(2.5) - h(2))
  local random, floor = math.random, math.floor
  return function()
    while true do
      local u = h_n + random() * (h_x1 - h_n)
      local x = H_inv(u)
      local k = floor(x + 0.5)
      if k < 1 then k = 1 elseif k > n then k = n end
      if k - x <= squeeze or u >= H(k + 0.5) - h(k) then return k end
    end
  end
end

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
local clients, next_rank, request_head, request_line_end, zeros

local function path_of(n)
  return "/r/" .. prefix .. string.format("%0" .. width .. "d", n)
end

function init(args)
  mode, prefix = args[1], args[2]
  count, width, seconds, threads = tonumber(args[3]), tonumber(args[4]), tonumber(args[5]), tonumber(args[6])
  marker_dir = args[7]
  if not (mode and prefix and count and width and seconds and threads and marker_dir) then
    error("usage: -- MODE PREFIX COUNT WIDTH SECONDS THREADS MARKER_DIR [ZIPF_S]")
  end
  wrk.headers["User-Agent"] = user_agent
  wrk.headers["Accept"] = "*/*"
  id = id or 1
  if mode == "clients" or mode == "mix" then clients = audience() end
  math.randomseed((now_us() % 1000000007) + id * 7919)
  next_index = id - 1
  unfinished_request = "GET /r/" .. prefix .. "-drain HTTP/1.1\r\nHost: " .. wrk.headers["Host"] .. "\r\n"
  if mode == "random" and count <= 200000 then
    -- Building a request costs a few µs; prebuild them when there are not too many.
    prebuilt = {}
    for n = 0, count - 1 do prebuilt[n + 1] = wrk.format("GET", path_of(n)) end
  elseif mode == "one" then
    prebuilt = { wrk.format("GET", "/r/" .. prefix) }
  elseif mode == "clients" then
    -- 50,000 prebuilt requests per thread, each a random code and client, sent in random order.
    prebuilt = {}
    for i = 1, 50000 do
      prebuilt[i] = "GET " .. path_of(math.random(0, count - 1)) .. " HTTP/1.1\r\nHost: " .. wrk.headers["Host"] .. "\r\n"
        .. clients[math.random(client_count)]
    end
  elseif mode == "mix" then
    local s = tonumber(args[8] or "")
    if not s or s <= 0 or s == 1 then error("mix: ZIPF_S must be a number > 0 other than 1 (got " .. tostring(args[8]) .. ")") end
    next_rank = zipf(s, count)
    request_head = "GET /r/" .. prefix
    request_line_end = " HTTP/1.1\r\nHost: " .. wrk.headers["Host"] .. "\r\n"
    zeros = {}
    for i = 0, width do zeros[i] = string.rep("0", i) end
  end
  -- The clock starts once the requests are ready (building the audience and 50,000 requests takes a moment).
  deadline = now_us() + seconds * 1000000
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
  if mode == "mix" then
    local digits = tostring(next_rank() - 1)
    return request_head .. zeros[width - #digits] .. digits .. request_line_end .. clients[math.random(client_count)]
  elseif mode == "walk" then
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
  local whole = math.floor(pause_ms)
  local fraction = pause_ms - whole
  function delay()
    if draining then return 0 end
    return (math.random() < fraction) and whole + 1 or whole
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
  -- The statuses counted as "other", e.g. "500:12,400:3" (none: "-"): what went wrong is the first question.
  local others = {}
  for status, n in pairs(by_status) do
    if status ~= 200 and status ~= 302 and status ~= 404 and status ~= 410 and status ~= 429 and status ~= 503 then
      others[#others + 1] = status .. ":" .. n
    end
  end
  table.sort(others)
  io.write(string.format(
    "BENCH answered=%d issued=%d s302=%d s200=%d s404=%d s410=%d s429=%d s503=%d other=%d "
      .. "window_us=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d mean_us=%.1f "
      .. "clean_stop=%s err_connect=%d err_read=%d err_write=%d err_timeout=%d wrk_requests=%d wrk_duration_us=%d others=%s\n",
    total_answered, total_issued, by_status[302] or 0, by_status[200] or 0, by_status[404] or 0, by_status[410] or 0,
    by_status[429] or 0, by_status[503] or 0, other,
    window_us, total_answered / (window_us / 1000000),
    math.floor(latency:percentile(50)), math.floor(latency:percentile(90)), math.floor(latency:percentile(99)),
    math.floor(latency:percentile(99.9)), math.floor(latency.max), latency.mean,
    tostring(all_finished), e.connect, e.read, e.write, e.timeout, summary.requests, summary.duration,
    #others > 0 and table.concat(others, ",") or "-"))
end
