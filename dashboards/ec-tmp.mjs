import * as echarts from 'echarts';
const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width: 600, height: 200 });
const data = [{ name: 'root', value: [0, 0, 100, 'root'] }, { name: 'a', value: [1, 0, 60, 'a (x.ts:3)'] }, { name: 'b', value: [1, 60, 100, 'b'] }];
chart.setOption({ animation: false, title: { text: 'test' }, xAxis: { show: false, min: 0, max: 100 }, yAxis: { show: false, min: 0, max: 5, inverse: true },
  grid: { left: 0, right: 0, top: 30, bottom: 0 },
  series: [{ type: 'custom', renderItem: (params, api) => { const s = api.coord([api.value(1), api.value(0)]); const e = api.coord([api.value(2), api.value(0)]); const h = api.size([0, 1])[1];
    return { type: 'rect', shape: { x: s[0], y: s[1], width: e[0] - s[0], height: h }, style: { fill: '#e66', stroke: '#fff' }, textContent: { style: { text: api.value(3), fontSize: 11, overflow: 'truncate', width: e[0]-s[0] } }, textConfig: { position: 'insideLeft' } }; },
    encode: { x: [1, 2], y: 0 }, data }] });
const svg = chart.renderToSVGString(); console.log(svg.length, svg.slice(0, 1500));
