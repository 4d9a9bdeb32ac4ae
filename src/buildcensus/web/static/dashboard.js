// buildcensus dashboard: chart downloads (SVG as drawn, PNG rendered in the browser).
// Nothing here talks to the network.
"use strict";

(function () {
  function save(blob, name) {
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url;
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
  }

  function svgText(svg) {
    // XMLSerializer writes the SVG namespace declaration for a standalone file.
    return new XMLSerializer().serializeToString(svg);
  }

  function toPng(svg, name) {
    const w = Number(svg.getAttribute("width")) || svg.viewBox.baseVal.width;
    const h = Number(svg.getAttribute("height")) || svg.viewBox.baseVal.height;
    const scale = 2;
    const img = new Image();
    img.onload = function () {
      const canvas = document.createElement("canvas");
      canvas.width = w * scale;
      canvas.height = h * scale;
      const ctx = canvas.getContext("2d");
      ctx.fillStyle = "#ffffff";
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
      canvas.toBlob(function (blob) { save(blob, name); }, "image/png");
    };
    img.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(svgText(svg));
  }

  document.addEventListener("click", function (event) {
    const button = event.target.closest("button[data-download]");
    if (!button) return;
    const panel = button.closest("section.panel");
    const svg = panel && panel.querySelector("svg.chart");
    if (!svg) return;
    const name = panel.dataset.file || "chart";
    if (button.dataset.download === "svg") {
      save(new Blob([svgText(svg)], { type: "image/svg+xml" }), name + ".svg");
    } else {
      toPng(svg, name + ".png");
    }
  });
})();
