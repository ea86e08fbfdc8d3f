/* The home page's bar chart of stations per unit. The figures come from the page itself
   ({{ chart|json_script:"chart-data" }}): [{"id", "name", "stations"}, ...]. */
(function () {
  "use strict";
  var source = document.getElementById("chart-data");
  var el = document.getElementById("stations-chart");
  if (!window.echarts || !source || !el) return;
  var data = JSON.parse(source.textContent);
  var short = function (name) {
    return name.replace("新时代文明实践所", "").replace("新时代文明实践中心", "");
  };
  var chart = window.echarts.init(el);
  chart.setOption({
    grid: {left: 8, right: 16, top: 16, bottom: 8, containLabel: true},
    tooltip: {trigger: "axis"},
    xAxis: {type: "value", minInterval: 1},
    yAxis: {type: "category", inverse: true, data: data.map(function (d) { return short(d.name); })},
    series: [{
      type: "bar",
      data: data.map(function (d) { return d.stations; }),
      itemStyle: {color: "#b71c1c"},
      label: {show: true, position: "right"}
    }]
  });
  chart.on("click", function (p) { window.location = "/units/" + data[p.dataIndex].id + "/"; });
  window.addEventListener("resize", function () { chart.resize(); });
})();
