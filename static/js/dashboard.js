// Weekly trend charts from the JSON the page embeds (the same numbers are in a table).
"use strict";

(() => {
  const source = document.getElementById("dashboard-data");
  if (!source || typeof Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  const colors = ["#0d6efd", "#6f42c1", "#fd7e14", "#198754", "#20c997", "#dc3545"];
  const draw = (id, series) => {
    const canvas = document.getElementById(id);
    if (!canvas) return;
    const keys = Object.keys(series);
    new Chart(canvas, {
      type: "line",
      data: {
        labels: data.labels,
        datasets: keys.map((key, i) => ({
          label: data.names[key],
          data: series[key],
          borderColor: colors[i % colors.length],
          backgroundColor: colors[i % colors.length],
          pointStyle: ["circle", "rect", "triangle"][i % 3],
          borderDash: i === 1 ? [6, 3] : i === 2 ? [2, 2] : [],
          tension: 0.2,
        })),
      },
      options: {
        responsive: true,
        animation: false,
        interaction: { mode: "index", intersect: false },
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
        plugins: { legend: { labels: { usePointStyle: true } } },
      },
    });
  };
  draw("chart-marketing", data.marketing);
  draw("chart-sales", data.sales);
})();
