// ECharts options for the code page. Tooltips render HTML, so every formatter escapes what it shows and
// adds no inline style (the CSP allows none); names come from scanners' user agents and GeoLite2.
import { escapeHtml, countryName, fmt } from './dom.js';

const palette = ['#0b57d0', '#b3261e', '#146c2e', '#8e4a00', '#6d3bbf', '#00677d', '#7d5260', '#5f6368'];
const axisText = { color: '#3c4043' };
const DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

function tooltip(format) {
  return { trigger: 'item', confine: true, renderMode: 'html', formatter: format };
}

function axisTooltip() {
  return {
    trigger: 'axis',
    confine: true,
    formatter: (items) => {
      const list = Array.isArray(items) ? items : [items];
      const head = list.length ? escapeHtml(list[0].axisValueLabel ?? list[0].name) : '';
      return [head, ...list.map((i) => `${escapeHtml(i.seriesName)}: ${escapeHtml(fmt(i.value))}`)].join('<br>');
    },
  };
}

/** Bucket label from the API's local ISO start ("2026-11-24T00:00:00+01:00"), read as text: no time-zone shifts. */
export function bucketLabel(start, granularity) {
  const date = start.slice(0, 10);
  if (granularity === 'hour') return `${start.slice(5, 10)} ${start.slice(11, 16)}`;
  if (granularity === 'month') return start.slice(0, 7);
  if (granularity === 'week') return `wk ${date}`;
  return date;
}

export function timeSeries(stats) {
  const labels = stats.series.map((b) => bucketLabel(b.start, stats.granularity));
  const line = (name, key, color) => ({
    name, type: 'line', data: stats.series.map((b) => b[key]), showSymbol: stats.series.length < 60, color, smooth: false,
  });
  return {
    aria: { enabled: true },
    color: palette,
    grid: { left: 48, right: 16, top: 40, bottom: 48 },
    legend: { top: 0, textStyle: axisText },
    tooltip: axisTooltip(),
    xAxis: { type: 'category', data: labels, axisLabel: { ...axisText, hideOverlap: true } },
    yAxis: { type: 'value', minInterval: 1, axisLabel: axisText },
    series: [line('Scans', 'scans', palette[0]), line('Humans', 'humans', palette[2]), line('Bots', 'bots', palette[1]), line('Throttled', 'throttled', palette[3])],
  };
}

export function worldMap(stats) {
  const countries = stats.countries.filter((c) => c.country !== 'unknown').map((c) => ({ name: c.country, value: c.scans }));
  const max = Math.max(1, ...countries.map((c) => c.value));
  const cities = stats.cities
    .filter((c) => typeof c.latitude === 'number' && typeof c.longitude === 'number')
    .map((c) => ({ name: `${c.city}, ${countryName(c.country)}`, value: [c.longitude, c.latitude, c.scans] }));
  return {
    aria: { enabled: true },
    tooltip: tooltip((p) => {
      if (p.seriesType === 'scatter') return `${escapeHtml(p.name)}: ${escapeHtml(fmt(p.value[2]))} scans`;
      const n = typeof p.value === 'number' && !Number.isNaN(p.value) ? p.value : 0;
      return `${escapeHtml(countryName(p.name))}: ${escapeHtml(fmt(n))} scans`;
    }),
    visualMap: {
      type: 'continuous', min: 0, max, seriesIndex: 0, left: 8, bottom: 8, calculable: false,
      inRange: { color: ['#dbe7fb', '#0b57d0'] }, text: [fmt(max), '0'], textStyle: axisText, itemHeight: 80,
    },
    geo: {
      map: 'world', roam: true, scaleLimit: { min: 1, max: 12 }, zoom: 1.15,
      itemStyle: { areaColor: '#eef0f2', borderColor: '#9aa0a6', borderWidth: 0.4 },
      emphasis: { label: { show: false }, itemStyle: { areaColor: '#fbbc04' } },
      select: { disabled: true },
    },
    series: [
      { name: 'Scans by country', type: 'map', geoIndex: 0, data: countries },
      {
        name: 'Cities', type: 'scatter', coordinateSystem: 'geo', data: cities,
        symbolSize: (v) => Math.min(22, 6 + Math.sqrt(v[2]) * 2), itemStyle: { color: '#b3261e', borderColor: '#fff', borderWidth: 1 },
        zlevel: 1,
      },
    ],
  };
}

export function pie(name, rows) {
  return {
    aria: { enabled: true },
    color: palette,
    tooltip: tooltip((p) => `${escapeHtml(p.name)}: ${escapeHtml(fmt(p.value))} (${escapeHtml(p.percent)}%)`),
    legend: { bottom: 0, type: 'scroll', textStyle: axisText },
    series: [{
      name, type: 'pie', radius: ['35%', '65%'], center: ['50%', '45%'],
      data: rows.map((r) => ({ name: r.name, value: r.scans })),
      label: { show: false },
    }],
  };
}

export function bars(name, rows) {
  const top = rows.slice(0, 10).reverse();
  return {
    aria: { enabled: true },
    color: [palette[0]],
    grid: { left: 8, right: 32, top: 8, bottom: 8, containLabel: true },
    tooltip: tooltip((p) => `${escapeHtml(p.name)}: ${escapeHtml(fmt(p.value))}`),
    xAxis: { type: 'value', minInterval: 1, axisLabel: axisText },
    yAxis: { type: 'category', data: top.map((r) => r.name), axisLabel: { ...axisText, width: 110, overflow: 'truncate' } },
    series: [{ name, type: 'bar', data: top.map((r) => r.scans), label: { show: true, position: 'right', color: '#3c4043' } }],
  };
}

export function heatMap(stats) {
  const data = [];
  let max = 0;
  stats.peakHours.forEach((hours, day) => hours.forEach((n, hour) => { data.push([hour, day, n]); max = Math.max(max, n); }));
  return {
    aria: { enabled: true },
    grid: { left: 44, right: 8, top: 8, bottom: 64 },
    tooltip: tooltip((p) => `${escapeHtml(DAYS[p.value[1]])} ${String(p.value[0]).padStart(2, '0')}:00: ${escapeHtml(fmt(p.value[2]))} scans`),
    xAxis: { type: 'category', data: [...Array(24).keys()].map((h) => String(h).padStart(2, '0')), splitArea: { show: true }, axisLabel: { ...axisText, hideOverlap: true } },
    yAxis: { type: 'category', data: DAYS, inverse: true, splitArea: { show: true }, axisLabel: axisText },
    visualMap: {
      min: 0, max: Math.max(1, max), calculable: false, orient: 'horizontal', left: 'center', bottom: 0,
      inRange: { color: ['#f1f3f4', '#0b57d0'] }, textStyle: axisText, itemWidth: 12,
    },
    series: [{ name: 'Scans by hour and weekday', type: 'heatmap', data, emphasis: { itemStyle: { borderColor: '#202124', borderWidth: 1 } } }],
  };
}

export { DAYS };

/** The live view's scans per second over the last minute: [[epoch ms, rate], …]. */
export function liveRate(points) {
  return {
    aria: { enabled: true },
    animation: false,
    color: [palette[0]],
    grid: { left: 40, right: 12, top: 12, bottom: 28 },
    tooltip: axisTooltip(),
    xAxis: { type: 'time', axisLabel: { ...axisText, hideOverlap: true } },
    yAxis: { type: 'value', min: 0, minInterval: 1, axisLabel: axisText },
    series: [{ name: 'Scans per second', type: 'line', data: points, showSymbol: false, areaStyle: { opacity: 0.15 } }],
  };
}

/** The live view's world map: a pulse where each recent scan came from (city coordinates as stored). */
export function livePulse(pulses) {
  return {
    aria: { enabled: true },
    tooltip: tooltip((p) => `${escapeHtml(p.name)}`),
    geo: {
      map: 'world', roam: true, scaleLimit: { min: 1, max: 12 }, zoom: 1.15,
      itemStyle: { areaColor: '#eef0f2', borderColor: '#9aa0a6', borderWidth: 0.4 },
      emphasis: { label: { show: false } }, select: { disabled: true },
    },
    series: [{
      name: 'Recent scans', type: 'effectScatter', coordinateSystem: 'geo', data: pulses,
      symbolSize: 9, rippleEffect: { brushType: 'stroke', scale: 4, period: 2 },
      itemStyle: { color: '#b3261e' }, zlevel: 1,
    }],
  };
}
