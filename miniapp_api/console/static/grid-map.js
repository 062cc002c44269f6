/* 网格地图: one township's grid boundaries and open reports, drawn with Leaflet (served by
   Tongxin, no CDN). No tile layer unless the configuration names one ([console] map_tile_url). */
(function () {
  "use strict";
  var holder = document.getElementById("grid-map");
  var source = document.getElementById("map-data");
  if (!holder || !source || typeof L === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var COLOURS = { overdue: "#c62828", due_soon: "#ef8f00", on_time: "#2e7d32", none: "#607d8b" };
  var map = L.map(holder, { attributionControl: !!data.tiles, zoomSnap: 0.25 });
  if (data.tiles) {
    L.tileLayer(data.tiles.url, { attribution: data.tiles.attribution || "", maxZoom: 19 }).addTo(map);
  }
  var everything = L.featureGroup().addTo(map);
  var drawn = 0;
  function plain(text) {  /* Leaflet renders string content as HTML: give it an element instead */
    var span = document.createElement("span");
    span.textContent = text;
    return span;
  }
  data.grids.forEach(function (g) {
    var layer = null;
    if (g.boundary) {
      layer = L.geoJSON(g.boundary, { style: { color: "#1f5fa8", weight: 1.5, fillOpacity: 0.08 } });
    } else if (g.center) {
      layer = L.circleMarker(g.center, { radius: 5, color: "#1f5fa8", dashArray: "2 3", fillOpacity: 0 });
    }
    if (layer) {
      layer.bindTooltip(plain(g.label + (g.boundary ? "" : "（仅中心点）")));
      layer.addTo(everything);
      drawn += 1;
    }
  });
  data.reports.forEach(function (r) {
    var marker = L.circleMarker([r.lat, r.lng], {
      radius: 7, color: "#ffffff", weight: 1.5, fillColor: COLOURS[r.state] || COLOURS.none, fillOpacity: 0.95,
      className: "report-point state-" + r.state
    });
    var text = r.number + " · " + r.category + " · " + r.status + " · " + (data.states[r.state] || "") + " · " + r.grid;
    marker.bindTooltip(plain(text));
    marker.addTo(everything);
    drawn += 1;
  });
  if (drawn) {
    map.fitBounds(everything.getBounds(), { padding: [20, 20], maxZoom: 17 });
  } else {
    map.setView([43.34, 125.30], 11);
  }
  holder.setAttribute("data-drawn", String(drawn));
})();
