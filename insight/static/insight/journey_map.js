// The journey map's Sankey: stages as nodes, moves between them as links, and each stage's drops and clients still
// in it as end nodes. The numbers come from the page's JSON (the same as the table beside it).
(function () {
  "use strict";
  var holder = document.getElementById("journey-map-chart");
  var source = document.getElementById("journey-map-data");
  if (!holder || !source || typeof echarts === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var names = {};
  var nodes = [];
  var links = [];
  data.stages.forEach(function (stage) {
    names[stage.id] = stage.name + " (" + stage.entered + ")";
    nodes.push({ name: names[stage.id] });
  });
  data.moves.forEach(function (move) {
    // A Sankey has no cycles: a move back to an earlier stage is drawn to that stage's "again" node.
    var from = names[move.from];
    var to = names[move.to];
    var back = data.stages.findIndex(function (s) { return s.id === move.to; }) <=
      data.stages.findIndex(function (s) { return s.id === move.from; });
    if (back) {
      to = to + " again";
      if (!nodes.some(function (n) { return n.name === to; })) { nodes.push({ name: to }); }
    }
    links.push({ source: from, target: to, value: move.clients });
  });
  data.stages.forEach(function (stage) {
    [["dropped", "Dropped after "], ["in_stage", "Still in "]].forEach(function (end) {
      if (stage[end[0]] > 0) {
        var name = end[1] + stage.name;
        nodes.push({ name: name, itemStyle: { color: end[0] === "dropped" ? "#c0392b" : "#999" } });
        links.push({ source: names[stage.id], target: name, value: stage[end[0]] });
      }
    });
  });
  var chart = echarts.init(holder);
  chart.setOption({
    animation: false,
    tooltip: { trigger: "item" },
    series: [{ type: "sankey", left: 8, right: 150, data: nodes, links: links, emphasis: { focus: "adjacency" },
               label: { formatter: "{b}" }, lineStyle: { color: "source", opacity: 0.4 } }]
  });
  window.addEventListener("resize", function () { chart.resize(); });
}());
