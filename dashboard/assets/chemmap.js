/* Clientside callbacks of ChemMap: things the browser does alone, without a server round trip. */
window.dash_clientside = Object.assign({}, window.dash_clientside, {
  chemmap: {
    /* The view's query string -> the address bar, without reloading or adding history entries. */
    pushQuery: function (query) {
      if (typeof query !== "string") { return window.dash_clientside.no_update; }
      if (query !== window.location.search) {
        window.history.replaceState(window.history.state, "", window.location.pathname + query + window.location.hash);
      }
      return query;
    },

    /* Theme: the page class (CSS variables) and AG Grid's colour scheme. */
    setTheme: function (theme) {
      var name = theme === "dark" ? "dark" : "light";
      document.documentElement.dataset.theme = name;
      document.body.dataset.agThemeMode = name;
      return "page theme-" + name;
    },

    toggleModal: function (openClicks, closeClicks, className) {
      var trigger = window.dash_clientside.callback_context.triggered_id;
      return (trigger && String(trigger).indexOf("close") >= 0) ? "modal" : "modal open";
    },

    currentAddress: function () { return window.location.href; },

    settleAfterAnimation: function (figure, animate, options) {
      if (!animate || !figure) { return window.dash_clientside.no_update; }
      var duration = (options && options.transition && options.transition.duration) || 700;
      // The graph this animation runs on: by the time it ends the page may show another one
      // (another map, the other view), which must not be relaid out with this figure's height.
      var animated = document.querySelector("#ptable-graph .js-plotly-plot");
      setTimeout(function () {
        var gd = document.querySelector("#ptable-graph .js-plotly-plot");
        if (gd && gd === animated && gd.isConnected && gd._fullLayout && window.Plotly) {
          // Plotly.animate stored the new height in gd.layout without applying it, so react
          // would see no change: nudge the height, then set it, to redraw the whole table.
          var height = figure.layout.height;
          window.Plotly.relayout(gd, {height: height + 1, "transition.duration": 0}).then(function () {
            return window.Plotly.relayout(gd, {height: height});
          });
        }
      }, duration + 80);
      return Date.now();
    },

    /* A click on a tile toggles its element; "Clear elements" empties the selection. */
    toggleElement: function (click, clearClicks, selected) {
      var noUpdate = window.dash_clientside.no_update;
      if (window.dash_clientside.callback_context.triggered_id === "clear-elements") { return [[], noUpdate]; }
      if (!click || !click.points || !click.points.length) { return [noUpdate, noUpdate]; }
      var symbol = click.points[0].customdata;
      if (typeof symbol !== "string") { return [noUpdate, noUpdate]; }
      var list = Array.isArray(selected) ? selected.slice() : [];
      var index = list.indexOf(symbol);
      if (index >= 0) { list.splice(index, 1); } else { list.push(symbol); }
      return [list, symbol];
    },

    /* plotly's selectedData -> only the row numbers of the base trace (trace 0). Normally the
     * lasso interceptor below has sent them already and selectedData holds no points. */
    lassoRows: function (selected) {
      if (!selected || !selected.points) { return window.dash_clientside.no_update; }
      var rows = [];
      for (var i = 0; i < selected.points.length; i++) {
        var p = selected.points[i];
        if (p.curveNumber === 0) { rows.push(p.pointIndex !== undefined ? p.pointIndex : p.pointNumber); }
      }
      if (rows.length === 0) { return window.dash_clientside.no_update; }
      return {rows: rows, time: Date.now()};
    },

    /* Zoom/pan events -> {x: [x0, x1], y: [y0, y1]} or null when zoomed out. */
    viewFromRelayout: function (relayout, current) {
      if (!relayout) { return window.dash_clientside.no_update; }
      if (relayout["xaxis.autorange"] || relayout["yaxis.autorange"] || relayout.autosize) {
        return current === null ? window.dash_clientside.no_update : null;
      }
      var x0 = relayout["xaxis.range[0]"], x1 = relayout["xaxis.range[1]"];
      var y0 = relayout["yaxis.range[0]"], y1 = relayout["yaxis.range[1]"];
      if (relayout["xaxis.range"]) { x0 = relayout["xaxis.range"][0]; x1 = relayout["xaxis.range"][1]; }
      if (relayout["yaxis.range"]) { y0 = relayout["yaxis.range"][0]; y1 = relayout["yaxis.range"][1]; }
      if ([x0, x1, y0, y1].some(function (v) { return typeof v !== "number" || !isFinite(v); })) {
        return window.dash_clientside.no_update;
      }
      var round = function (v) { return Number(v.toPrecision(6)); };
      return {x: [round(x0), round(x1)], y: [round(y0), round(y1)]};
    }
  }
});

/* Graphs removed in the middle of a transition.
 *
 * dcc.Graph purges its plot when it leaves the page (another view, another map), but plotly's
 * running transitions (the periodic table slides its tiles and axes for 0.6-0.7 s whenever its
 * figure changes) keep drawing frames on it from requestAnimationFrame and then read the purged
 * gd._fullLayout: "Cannot read properties of undefined (reading '_plots')". Plotly cannot stop
 * them without relaying the graph out, so the purge of a graph still transitioning waits until
 * the transition is over: the frames finish on the graph (React unmounts it while it is still in
 * the page, then detaches it: intact either way), then it goes.
 */
(function () {
  var LONGEST_TRANSITION_MS = 1500;
  var SETTLE_MS = 150;

  function transitionMs(gd) {
    var full = gd._fullLayout;
    var duration = full && full.transition && full.transition.duration;
    return Math.min(LONGEST_TRANSITION_MS, typeof duration === "number" && duration > 0 ? duration : 700);
  }

  function deferPurgeWhileTransitioning(Plotly) {
    if (Plotly.__chemmapPurge) { return; }
    var purge = Plotly.purge;
    Plotly.__chemmapPurge = purge;
    Plotly.purge = function (gd) {
      var div = typeof gd === "string" ? document.getElementById(gd) : gd;
      if (div && (div._transitioning || div._transitioningWithDuration) && div._fullLayout) {
        setTimeout(function () { purge.call(Plotly, div); }, transitionMs(div) + SETTLE_MS);
        return div;
      }
      return purge.apply(this, arguments);
    };
  }

  /* plotly.js may arrive after this file: wait for it (a minute at most). */
  function whenPlotly(tries) {
    if (window.Plotly && typeof window.Plotly.purge === "function") { deferPurgeWhileTransitioning(window.Plotly); return; }
    if (tries < 600) { setTimeout(function () { whenPlotly(tries + 1); }, 100); }
  }
  whenPlotly(0);
})();

/* Lassos on the materials map, kept light.
 *
 * - plotly hands a lasso's points (every field of thousands of points) to dcc.Graph, which
 *   stores them as selectedData in the Dash state (seconds for 10k points), and writes the
 *   lasso outline back into the figure (layout.selections), which makes dcc.Graph redraw the
 *   whole WebGL map once more. Here the map's events are intercepted first: the row numbers
 *   of the base trace go straight to the lasso-event store (the server accumulates them and
 *   patches the selection into the figure: one redraw), the Graph only hears of the lasso's
 *   outline, and the outline never enters the figure.
 * - While the lasso is being drawn, plotly restyles the selected points at every mouse move:
 *   a full WebGL redraw each time (half a second for 100k points without a GPU), so the lasso
 *   lags behind the mouse. During the drag the WebGL scene is not cleared nor redrawn (the
 *   outline is SVG and keeps following the mouse); the selection shows with the server's patch.
 */
(function () {
  /* If the server's patch does not redraw the map this long after a lasso, redraw it here. */
  var REDRAW_AFTER_MS = 4000;

  function held(gd) { return !!gd.__chemmapHold; }

  /* Skip the WebGL scene's clear and draw while gd.__chemmapHold is set (remembering that
   * something was skipped, so the map can be redrawn if nothing else redraws it). */
  function holdWebGL(gd) {
    var full = gd._fullLayout;
    var scene = full && full._plots && full._plots.xy && full._plots.xy._scene;
    var redraws = [];
    if (scene && typeof scene.draw === "function") {
      if (!scene.__chemmapDraw) {
        var draw = scene.draw;
        scene.__chemmapDraw = draw;
        scene.draw = function () {
          if (held(gd)) { gd.__chemmapSkipped = true; return undefined; }
          return draw.apply(this, arguments);
        };
      }
      redraws.push(function () { scene.__chemmapDraw.call(scene); });
    }
    var clears = [];
    if (full && full._glcanvas && full._glcanvas.each) {
      full._glcanvas.each(function (canvas) {
        var regl = canvas && canvas.regl;
        if (regl && typeof regl.clear === "function") {
          if (!regl.__chemmapClear) {
            var clear = regl.clear;
            regl.__chemmapClear = clear;
            regl.clear = function () {
              if (held(gd)) { gd.__chemmapSkipped = true; return undefined; }
              return clear.apply(this, arguments);
            };
          }
          clears.push(function () { regl.__chemmapClear.call(regl, {color: true, depth: true}); });
        }
      });
    }
    gd.__chemmapRedraw = function () { clears.forEach(function (f) { f(); }); redraws.forEach(function (f) { f(); }); };
  }

  /* Stop holding; if draws were skipped and no redraw follows soon (no patch came), redraw. */
  function release(gd) {
    if (!held(gd)) { return; }
    gd.__chemmapHold = false;
    var afterplots = gd.__chemmapAfterplots || 0;
    setTimeout(function () {
      if (gd.__chemmapSkipped && (gd.__chemmapAfterplots || 0) === afterplots && gd.__chemmapRedraw) {
        gd.__chemmapRedraw();
      }
      gd.__chemmapSkipped = false;
    }, REDRAW_AFTER_MS);
  }

  function watchDrags(gd) {
    gd.on("plotly_afterplot", function () { gd.__chemmapAfterplots = (gd.__chemmapAfterplots || 0) + 1; });
    gd.addEventListener("mousedown", function (event) {
      var mode = gd._fullLayout && gd._fullLayout.dragmode;
      var target = event.target;
      if ((mode === "lasso" || mode === "select") && target && target.classList && target.classList.contains("nsewdrag")) {
        holdWebGL(gd);
        gd.__chemmapSkipped = false;
        gd.__chemmapHold = true;
        gd.__chemmapGesture = true;  // the next plotly_selected comes from the user
        gd.__chemmapPress = (gd.__chemmapPress || 0) + 1;
      }
    }, true);
    // The hold ends when plotly reports the selection (after it stored the outline, which
    // redraws the map once more), or shortly after the mouse is released without one.
    window.addEventListener("mouseup", function () {
      if (held(gd)) { setTimeout(function () { release(gd); }, 1500); }
      // A press that made no selection (a double-click) must not adopt a later re-emitted one.
      var press = gd.__chemmapPress;
      if (gd.__chemmapGesture) {
        setTimeout(function () { if (gd.__chemmapPress === press) { gd.__chemmapGesture = false; } }, 3000);
      }
    }, true);
  }

  function rowsOf(points) {
    var rows = [];
    for (var i = 0; i < points.length; i++) {
      var p = points[i];
      if (p.curveNumber === 0) { rows.push(p.pointIndex !== undefined ? p.pointIndex : p.pointNumber); }
    }
    return rows;
  }

  function intercept(gd) {
    if (gd.__chemmapLasso || typeof gd.emit !== "function") { return; }
    gd.__chemmapLasso = true;
    watchDrags(gd);
    var emit = gd.emit;
    gd.emit = function (event, data) {
      if (event === "plotly_selected" && data && Array.isArray(data.points)) {
        // Only selections the user made (plotly re-emits one after the server's patch), and
        // even empty ones: the server then re-applies the accumulated selection, which
        // plotly's own empty selection would otherwise replace.
        if (window.dash_clientside.set_props && gd.__chemmapGesture) {
          gd.__chemmapGesture = false;
          window.dash_clientside.set_props("lasso-event", {data: {rows: rowsOf(data.points), time: Date.now()}});
        }
        data = Object.assign({}, data, {points: []});
        setTimeout(function () { release(gd); }, 0);  // after plotly's own work on this selection
      } else if (event === "plotly_relayout" && data && typeof data === "object") {
        var kept = {}, dropped = false;
        Object.keys(data).forEach(function (key) {
          if (key.indexOf("selections") === 0) { dropped = true; } else { kept[key] = data[key]; }
        });
        if (dropped) {
          if (Object.keys(kept).length === 0) { return false; }
          data = kept;
        }
      }
      return emit.call(this, event, data);
    };
  }

  function watch(tries) {
    var gd = document.querySelector("#map-graph .js-plotly-plot");
    if (gd && gd.emit) { intercept(gd); }
    // The page (and the graph div with it) is rendered again when the map or the link changes.
    setTimeout(function () { watch((tries || 0) + 1); }, gd && gd.__chemmapLasso ? 1000 : 100);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { watch(0); });
  } else {
    watch(0);
  }
})();

/* Element highlight layer of the materials map.
 *
 * Redrawing 100k-1M WebGL points through plotly takes seconds without a GPU, so a highlight
 * never touches the WebGL trace: the WebGL canvas is faded with CSS (instant) and the
 * highlighted compounds are painted on a 2D canvas laid over the plot area, pixel by pixel,
 * in their trace colours. The layer follows zoom, pan, resize and recolouring (plotly_afterplot
 * and plotly_relayouting). The row numbers come from the server as a base64 int32 array.
 */
(function () {
  var FADED = 0.13;

  function decodeRows(b64) {
    var binary = atob(b64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) { bytes[i] = binary.charCodeAt(i); }
    return new Int32Array(bytes.buffer);
  }

  function parseColor(text) {
    var m = /rgba?\(([^)]+)\)/.exec(text);
    if (m) { var p = m[1].split(","); return [+p[0], +p[1], +p[2]]; }
    if (text && text[0] === "#" && text.length === 7) {
      return [parseInt(text.slice(1, 3), 16), parseInt(text.slice(3, 5), 16), parseInt(text.slice(5, 7), 16)];
    }
    return [0, 0, 0];
  }

  /* 256-entry RGB lookup table of an explicit plotly colour scale. */
  function lookupTable(scale) {
    var table = new Uint8Array(256 * 3);
    var stops = scale.map(function (s) { return [+s[0], parseColor(s[1])]; });
    for (var k = 0; k < 256; k++) {
      var f = k / 255, j = 1;
      while (j < stops.length - 1 && stops[j][0] < f) { j++; }
      var a = stops[j - 1], b = stops[j], w = b[0] > a[0] ? (f - a[0]) / (b[0] - a[0]) : 1;
      w = Math.max(0, Math.min(1, w));
      for (var c = 0; c < 3; c++) { table[3 * k + c] = Math.round(a[1][c] + (b[1][c] - a[1][c]) * w); }
    }
    return table;
  }

  function layerOf(gd) {
    var layer = gd.querySelector("canvas.chemmap-highlight");
    if (!layer) {
      layer = document.createElement("canvas");
      layer.className = "chemmap-highlight";
      layer.style.position = "absolute";
      layer.style.left = "0";
      layer.style.top = "0";
      layer.style.pointerEvents = "none";
      var gl = gd.querySelector(".gl-container");
      var container = gd.querySelector(".svg-container");
      if (gl && gl.nextSibling) { container.insertBefore(layer, gl.nextSibling); } else { container.appendChild(layer); }
    }
    return layer;
  }

  function draw(gd) {
    var state = gd.__chemmapHighlight;
    var full = gd._fullLayout, trace = gd._fullData && gd._fullData[0];
    if (!state || !full || !trace || !full.xaxis || !trace.x) { return; }
    var gl = gd.querySelector(".gl-container");
    var layer = layerOf(gd);
    var width = full.width, height = full.height, ratio = window.devicePixelRatio || 1;
    if (layer.width !== Math.round(width * ratio) || layer.height !== Math.round(height * ratio)) {
      layer.width = Math.round(width * ratio);
      layer.height = Math.round(height * ratio);
      layer.style.width = width + "px";
      layer.style.height = height + "px";
    }
    var context = layer.getContext("2d");
    context.clearRect(0, 0, layer.width, layer.height);
    if (gl) { gl.style.opacity = state.active ? String(FADED) : ""; }
    if (!state.active || !state.rows || state.rows.length === 0) {
      gd.__chemmapHighlightDrawn = performance.now();
      gd.dispatchEvent(new CustomEvent("chemmap-highlight-drawn"));
      return;
    }
    var xa = full.xaxis, ya = full.yaxis, marker = trace.marker;
    var x0 = xa._offset, x1 = xa._offset + xa._length, y0 = ya._offset, y1 = ya._offset + ya._length;
    var W = layer.width, H = layer.height;
    var image = context.createImageData(W, H);
    var pixels = new Uint32Array(image.data.buffer);
    var colors = marker.color, single = null, table = null, cmin = marker.cmin, cmax = marker.cmax;
    if (typeof colors === "string") { single = parseColor(colors); }
    else { table = lookupTable(marker.colorscale); }
    var alpha = Math.round(255 * (typeof marker.opacity === "number" ? marker.opacity : 1));
    var radius = Math.max(1, (typeof marker.size === "number" ? marker.size : 4) * ratio / 2);
    var stamp = [], r2 = radius * radius, R = Math.ceil(radius);
    for (var dy = -R; dy <= R; dy++) { for (var dx = -R; dx <= R; dx++) { if (dx * dx + dy * dy <= r2) { stamp.push(dx, dy); } } }
    var rows = state.rows, xs = trace.x, ys = trace.y, span = cmax - cmin;
    for (var i = 0; i < rows.length; i++) {
      var row = rows[i];
      var px = xa._offset + xa.l2p(xs[row]), py = ya._offset + ya.l2p(ys[row]);
      if (!(px >= x0 && px <= x1 && py >= y0 && py <= y1)) { continue; }
      var r, g, b;
      if (single) { r = single[0]; g = single[1]; b = single[2]; }
      else {
        var k = Math.round(255 * (colors[row] - cmin) / span);
        k = k < 0 ? 0 : (k > 255 ? 255 : (k !== k ? 0 : k));
        r = table[3 * k]; g = table[3 * k + 1]; b = table[3 * k + 2];
      }
      var value = (alpha << 24) | (b << 16) | (g << 8) | r;
      var cx = Math.round(px * ratio), cy = Math.round(py * ratio);
      for (var s = 0; s < stamp.length; s += 2) {
        var qx = cx + stamp[s], qy = cy + stamp[s + 1];
        if (qx >= 0 && qy >= 0 && qx < W && qy < H) { pixels[qy * W + qx] = value; }
      }
    }
    context.putImageData(image, 0, 0);
    gd.__chemmapHighlightDrawn = performance.now();
    gd.dispatchEvent(new CustomEvent("chemmap-highlight-drawn"));
  }

  function attach(gd) {
    if (gd.__chemmapHighlightAttached) { return; }
    gd.__chemmapHighlightAttached = true;
    var redraw = function () { draw(gd); };
    gd.on("plotly_afterplot", redraw);
    gd.on("plotly_relayouting", redraw);
  }

  /* The graph div exists and is plotted only after its first figure: wait for it. */
  function whenPlotted(callback, tries) {
    var gd = document.querySelector("#map-graph .js-plotly-plot");
    if (gd && gd.on && gd._fullData) { callback(gd); return; }
    if ((tries || 0) < 600) { setTimeout(function () { whenPlotted(callback, (tries || 0) + 1); }, 100); }
  }

  window.dash_clientside.chemmap.drawHighlight = function (data, figure) {
    var active = !!(data && data.active);
    var state = {active: active, rows: active && data.rows ? decodeRows(data.rows) : null};
    window.__chemmapHighlight = state;
    whenPlotted(function (gd) {
      if (window.__chemmapHighlight !== state) { return; }  // a newer highlight arrived meanwhile
      gd.__chemmapHighlight = state;
      attach(gd);
      draw(gd);
    });
    return active ? data.n : 0;
  };
})();

/* dcc.Upload drops a file above its max_size without a word (plotly/dash#2638): say so next to the box. */
(function () {
  function size(n) { return n >= 1048576 ? (n / 1048576).toFixed(1) + " MB" : Math.ceil(n / 1024) + " kB"; }
  function refuseTooLarge(event) {
    var box = event.target && event.target.closest ? event.target.closest("[data-max-bytes]") : null;
    if (!box || !window.dash_clientside || !window.dash_clientside.set_props) { return; }
    var limit = Number(box.getAttribute("data-max-bytes"));
    var files = (event.dataTransfer && event.dataTransfer.files) || (event.target && event.target.files) || [];
    for (var i = 0; i < files.length; i++) {
      if (limit > 0 && files[i].size > limit) {
        window.dash_clientside.set_props("upload-message", {children: {
          type: "Div", namespace: "dash_html_components",
          props: {className: "error", children: "File " + JSON.stringify(files[i].name) + " is " + size(files[i].size) +
            ": this server accepts files up to " + size(limit) +
            ". Keep only the formula column and the properties you need, or split the file."}
        }});
        return;
      }
    }
  }
  document.addEventListener("change", refuseTooLarge, true);
  document.addEventListener("drop", refuseTooLarge, true);
})();
