/* The statistics dashboard's charts (activities/views_stats.py), without inline script
   (CSP). The figures come from the page itself ({{ chart|json_script:"dashboard-data" }}):
   {"labels": {...}, "months": [{"month", "activities", "beneficiaries", "materials",
   "hours"}], "categories": [{"name", ...}], "children": [{"id", "name", ...}]} — the same
   numbers as the tables under the charts. Also: [data-print] buttons print the page. */
(function () {
  "use strict";

  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });

  var source = document.getElementById("dashboard-data");
  if (!window.echarts || !source) return;
  var data = JSON.parse(source.textContent);
  var red = "#b71c1c";
  var charts = [];
  var short = function (name) {
    return name.replace("新时代文明实践所", "").replace("新时代文明实践站", "")
      .replace("新时代文明实践中心", "");
  };

  function chart(id, option) {
    var el = document.getElementById(id);
    if (!el) return null;
    var c = window.echarts.init(el);
    c.setOption(option);
    charts.push(c);
    return c;
  }

  chart("chart-months", {
    color: [red, "#1565c0"],
    grid: {left: 8, right: 8, top: 36, bottom: 8, containLabel: true},
    legend: {top: 0},
    tooltip: {trigger: "axis"},
    xAxis: {type: "category", data: data.months.map(function (m) { return m.month; })},
    yAxis: [
      {type: "value", minInterval: 1, name: ""},
      {type: "value", splitLine: {show: false}}
    ],
    series: [
      {name: data.labels.activities, type: "bar",
       data: data.months.map(function (m) { return m.activities; })},
      {name: data.labels.hours, type: "line", yAxisIndex: 1, smooth: true,
       data: data.months.map(function (m) { return m.hours; })}
    ]
  });

  chart("chart-categories", {
    color: [red, "#d84315", "#2e7d32", "#1565c0", "#6a1b9a", "#00838f", "#f9a825", "#455a64"],
    tooltip: {trigger: "item", formatter: "{b}: {c} ({d}%)"},
    legend: {bottom: 0, type: "scroll"},
    series: [{
      name: data.labels.activities, type: "pie", radius: ["35%", "65%"], center: ["50%", "45%"],
      label: {show: false},
      data: data.categories.map(function (c) { return {name: c.name, value: c.activities}; })
    }]
  });

  var ranked = data.children.slice(0, 30);
  var children = chart("chart-children", {
    grid: {left: 8, right: 40, top: 8, bottom: 8, containLabel: true},
    tooltip: {trigger: "axis"},
    xAxis: {type: "value", minInterval: 1},
    yAxis: {type: "category", inverse: true,
            data: ranked.map(function (c) { return short(c.name); })},
    series: [{
      name: data.labels.activities, type: "bar", itemStyle: {color: red},
      label: {show: true, position: "right"},
      data: ranked.map(function (c) { return c.activities; })
    }]
  });
  if (children) {
    var el = document.getElementById("chart-children");
    el.style.height = Math.max(240, 28 * ranked.length + 40) + "px";
    children.resize();
    children.on("click", function (p) {
      window.location = "/units/" + ranked[p.dataIndex].id + "/statistics/" + window.location.search;
    });
  }
  window.addEventListener("resize", function () {
    charts.forEach(function (c) { c.resize(); });
  });
})();
