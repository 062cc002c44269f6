/* 同心管理控制台: draws the dashboard's charts from the JSON the page embeds (no inline script). */
(function () {
  "use strict";
  var holder = document.getElementById("chart-data");
  if (!holder || typeof Chart === "undefined") { return; }
  var data = JSON.parse(holder.textContent);
  var labels = { pending: "待受理", accepted: "已受理", transferred: "已转办", resolved: "已办结", closed: "已评价", rejected: "不予受理" };
  var colors = { pending: "#e0a100", accepted: "#3b7dd8", transferred: "#7a5cc2", resolved: "#2e9e4f", closed: "#1e6b35", rejected: "#9aa5b3" };
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.animation = false;
  new Chart(document.getElementById("chart-status"), {
    type: "bar",
    data: {
      labels: data.units,
      datasets: data.statuses.map(function (s) {
        return { label: labels[s.code] || s.code, data: s.counts, backgroundColor: colors[s.code] };
      })
    },
    options: { responsive: true, maintainAspectRatio: false,
      scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } }
  });
  new Chart(document.getElementById("chart-rates"), {
    type: "bar",
    data: {
      labels: data.units,
      datasets: [
        { label: "办结率", data: data.rates.closure, backgroundColor: "#2e9e4f" },
        { label: "按时办结率", data: data.rates.on_time, backgroundColor: "#3b7dd8" },
        { label: "满意率", data: data.rates.satisfaction, backgroundColor: "#e0a100" }
      ]
    },
    options: { responsive: true, maintainAspectRatio: false, scales: { y: { beginAtZero: true, max: 100 } } }
  });
}());
