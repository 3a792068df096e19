// Copies what the dashboard's browser code needs from the pinned npm packages into a vendor directory:
//   echarts.min.js (+ its LICENSE and NOTICE), world.json (GeoJSON of the countries, each feature named by its
//   ISO 3166-1 alpha-2 code, as the stats API reports countries) and the licences of the map data.
// world-atlas identifies countries by ISO 3166-1 numeric code; i18n-iso-countries' codes.json maps them to
// alpha-2. Usage: node build-vendor.mjs OUT_DIR   (run after `npm ci` in this directory)
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const topojson = require("topojson-client");
const out = path.resolve(process.argv[2] ?? path.join(here, "..", "wwwroot", "app", "vendor"));
const mod = (p) => path.join(here, "node_modules", p);

fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
const copy = (from, to) => fs.copyFileSync(mod(from), path.join(out, to));
copy("echarts/dist/echarts.min.js", "echarts.min.js");
copy("echarts/LICENSE", "LICENSE.echarts");
copy("echarts/NOTICE", "NOTICE.echarts");
copy("world-atlas/LICENSE", "LICENSE.world-atlas");
copy("topojson-client/LICENSE", "LICENSE.topojson-client");
copy("i18n-iso-countries/LICENSE", "LICENSE.i18n-iso-countries");

const alpha2 = new Map(JSON.parse(fs.readFileSync(mod("i18n-iso-countries/codes.json"), "utf8")).map(([a2, , num]) => [num, a2]));
const topology = JSON.parse(fs.readFileSync(mod("world-atlas/countries-50m.json"), "utf8"));
const world = topojson.feature(topology, topology.objects.countries);
// Two decimals (~1 km) are plenty for a world map and halve the file.
const round = (c) => (typeof c[0] === "number" ? [Math.round(c[0] * 100) / 100, Math.round(c[1] * 100) / 100] : c.map(round));
// A flat map has no antimeridian: a ring with points on both sides of ±180° (Fiji, Chukotka) would be drawn as
// a line across the whole world. Its few points on the minority side are moved onto the map's edge.
const fixRing = (ring) => {
  const xs = ring.map((p) => p[0]);
  if (Math.max(...xs) - Math.min(...xs) <= 180) return ring;
  const east = xs.filter((x) => x > 0).length >= xs.length / 2;
  return ring.map(([x, y]) => (east && x < 0 ? [180, y] : !east && x > 0 ? [-180, y] : [x, y]));
};
const fixGeometry = (g) => g.type === "Polygon"
  ? { ...g, coordinates: g.coordinates.map(fixRing) }
  : { ...g, coordinates: g.coordinates.map((polygon) => polygon.map(fixRing)) };
let unnamed = 0;
// Antarctica is left out: nobody scans there, and it takes a fifth of a flat world map.
const features = world.features.filter((f) => f.id !== "010").map((f) => {
  const code = alpha2.get(f.id);
  if (!code) unnamed++;
  // Features without an ISO code (disputed areas) keep a unique name so ECharts can still draw them.
  return { type: "Feature", properties: { name: code ?? `x-${f.properties.name}`, label: f.properties.name }, geometry: fixGeometry({ ...f.geometry, coordinates: round(f.geometry.coordinates) }) };
});
fs.writeFileSync(path.join(out, "world.json"), JSON.stringify({ type: "FeatureCollection", features }));
console.log(`dashboard vendor assets in ${out}: echarts.min.js, world.json (${features.length} countries, ${unnamed} without ISO code)`);
