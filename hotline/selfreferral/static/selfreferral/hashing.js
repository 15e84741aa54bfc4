// Hashes of a file computed in the browser, so the file itself never leaves the device:
// SHA-256 (WebCrypto), MD5 and PDQ (written here, no third-party code), and for a video one PDQ per
// sampled frame. PDQ follows the reference C++ (facebook/ThreatExchange pdq/cpp) step by step, in
// float32 like it: luminance, Jarosz tent filter (two box passes along rows then columns),
// decimation to 64 x 64, quality, 16 x 16 DCT, median threshold. docs/self-referral.md has the details.
(function (root) {
  "use strict";
  var f32 = Math.fround;

  // ---------------------------------------------------------------- MD5 (RFC 1321)
  var SHIFTS = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
  var K = new Int32Array(64);
  for (var t = 0; t < 64; t++) { K[t] = Math.floor(Math.abs(Math.sin(t + 1)) * 4294967296) | 0; }

  function md5Block(state, x) {
    var a = state[0], b = state[1], c = state[2], d = state[3];
    for (var i = 0; i < 64; i++) {
      var fn, g;
      if (i < 16) { fn = (b & c) | (~b & d); g = i; }
      else if (i < 32) { fn = (d & b) | (~d & c); g = (5 * i + 1) & 15; }
      else if (i < 48) { fn = b ^ c ^ d; g = (3 * i + 5) & 15; }
      else { fn = c ^ (b | ~d); g = (7 * i) & 15; }
      var s = SHIFTS[((i >> 4) << 2) | (i & 3)];
      var sum = (a + fn + K[i] + x[g]) | 0;
      a = d; d = c; c = b;
      b = (b + ((sum << s) | (sum >>> (32 - s)))) | 0;
    }
    state[0] = (state[0] + a) | 0; state[1] = (state[1] + b) | 0;
    state[2] = (state[2] + c) | 0; state[3] = (state[3] + d) | 0;
  }

  function md5(bytes) {
    var state = new Int32Array([0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476]);
    var x = new Int32Array(16);
    var n = bytes.length, full = n - (n % 64), p, w;
    for (p = 0; p < full; p += 64) {
      for (w = 0; w < 16; w++) {
        var o = p + 4 * w;
        x[w] = bytes[o] | (bytes[o + 1] << 8) | (bytes[o + 2] << 16) | (bytes[o + 3] << 24);
      }
      md5Block(state, x);
    }
    var tail = new Uint8Array((n % 64) < 56 ? 64 : 128);
    tail.set(bytes.subarray(full));
    tail[n - full] = 0x80;
    var bits = tail.length - 8, lo = (n * 8) >>> 0, hi = Math.floor(n / 0x20000000);
    for (w = 0; w < 4; w++) { tail[bits + w] = (lo >>> (8 * w)) & 255; tail[bits + 4 + w] = (hi >>> (8 * w)) & 255; }
    for (p = 0; p < tail.length; p += 64) {
      for (w = 0; w < 16; w++) {
        var q = p + 4 * w;
        x[w] = tail[q] | (tail[q + 1] << 8) | (tail[q + 2] << 16) | (tail[q + 3] << 24);
      }
      md5Block(state, x);
    }
    var hex = "";
    for (w = 0; w < 4; w++) {
      for (var byte = 0; byte < 4; byte++) { hex += ((state[w] >>> (8 * byte)) & 255).toString(16).padStart(2, "0"); }
    }
    return hex;
  }

  // ---------------------------------------------------------------- SHA-256 (WebCrypto)
  function sha256(buffer) {
    return root.crypto.subtle.digest("SHA-256", buffer).then(function (digest) {
      return Array.prototype.map.call(new Uint8Array(digest), function (v) {
        return v.toString(16).padStart(2, "0");
      }).join("");
    });
  }

  // ---------------------------------------------------------------- PDQ
  var LUMA_R = f32(0.299), LUMA_G = f32(0.587), LUMA_B = f32(0.114);
  var DCT = (function () {
    var d = new Float32Array(16 * 64), scale = f32(Math.sqrt(2.0 / 64.0));
    for (var i = 0; i < 16; i++) {
      for (var j = 0; j < 64; j++) { d[i * 64 + j] = scale * Math.cos((Math.PI / 2 / 64.0) * (i + 1) * (2 * j + 1)); }
    }
    return d;
  })();

  function windowSize(side) { return Math.floor((side + 127) / 128); }

  // The reference's box1DFloat along one row: a clipped running mean, the window reaching
  // (w + 2) / 2 - 1 pixels forward, accumulated in float32.
  function boxRow(src, from, dst, to, len, win) {
    var half = (win + 2) >> 1, sum = 0, count = 0, li = from, ri = from, oi = to, i;
    for (i = 0; i < half - 1; i++) { sum = f32(sum + src[ri++]); count++; }
    for (i = 0; i < win - half + 1; i++) { sum = f32(sum + src[ri++]); count++; dst[oi++] = sum / count; }
    for (i = 0; i < len - win; i++) { sum = f32(sum + src[ri++]); sum = f32(sum - src[li++]); dst[oi++] = sum / count; }
    for (i = 0; i < half - 1; i++) { sum = f32(sum - src[li++]); count--; dst[oi++] = sum / count; }
  }

  // The same running mean down every column at once (row by row, so memory is read in order);
  // each column's sum sees the same float32 operations as the reference's strided loop.
  function boxColumns(src, dst, rows, cols, win) {
    var half = (win + 2) >> 1, sums = new Float32Array(cols), count = 0, li = 0, ri = 0, oi = 0, i, j, r, l, o;
    for (i = 0; i < half - 1; i++, ri++) { r = ri * cols; for (j = 0; j < cols; j++) { sums[j] += src[r + j]; } count++; }
    for (i = 0; i < win - half + 1; i++, ri++, oi++) {
      r = ri * cols; o = oi * cols; count++;
      for (j = 0; j < cols; j++) { sums[j] += src[r + j]; dst[o + j] = sums[j] / count; }
    }
    for (i = 0; i < rows - win; i++, ri++, li++, oi++) {
      r = ri * cols; l = li * cols; o = oi * cols;
      for (j = 0; j < cols; j++) { sums[j] += src[r + j]; sums[j] -= src[l + j]; dst[o + j] = sums[j] / count; }
    }
    for (i = 0; i < half - 1; i++, li++, oi++) {
      l = li * cols; o = oi * cols; count--;
      for (j = 0; j < cols; j++) { sums[j] -= src[l + j]; dst[o + j] = sums[j] / count; }
    }
  }

  // The three float32 products per channel value, looked up instead of computed 12 million times.
  var TERMS = (function () {
    var r = new Float32Array(256), g = new Float32Array(256), b = new Float32Array(256);
    for (var v = 0; v < 256; v++) { r[v] = LUMA_R * v; g[v] = LUMA_G * v; b[v] = LUMA_B * v; }
    return { r: r, g: g, b: b };
  })();

  function lumaRow(rgba, at, line, cols) {
    var r = TERMS.r, g = TERMS.g, b = TERMS.b;
    for (var j = 0, p = at; j < cols; j++, p += 4) { line[j] = f32(r[rgba[p]] + g[rgba[p + 1]]) + b[rgba[p + 2]]; }
  }

  function samples(side) {
    var at = new Int32Array(64);
    for (var k = 0; k < 64; k++) { at[k] = Math.floor(((k + 0.5) * side) / 64); }
    return at;
  }

  // Blur and decimate as the reference: rows, columns, rows, columns, then the 64 x 64 samples. Only
  // the 64 sampled columns are kept after the second row pass, so the second column pass runs on 64
  // columns instead of all: each kept value still comes from exactly the reference's operations.
  function downsample(rgba, rows, cols) {
    var alongRows = windowSize(cols), alongCols = windowSize(rows), line = new Float32Array(cols), i, k;
    var first = new Float32Array(rows * cols), second = new Float32Array(rows * cols);
    for (i = 0; i < rows; i++) { lumaRow(rgba, i * cols * 4, line, cols); boxRow(line, 0, first, i * cols, cols, alongRows); }
    boxColumns(first, second, rows, cols, alongCols);
    var at = samples(cols), kept = new Float32Array(rows * 64), blurred = new Float32Array(rows * 64);
    for (i = 0; i < rows; i++) {
      boxRow(second, i * cols, line, 0, cols, alongRows);
      for (k = 0; k < 64; k++) { kept[i * 64 + k] = line[at[k]]; }
    }
    boxColumns(kept, blurred, rows, 64, alongCols);
    var rowsAt = samples(rows), grid = new Float32Array(64 * 64);
    for (i = 0; i < 64; i++) { grid.set(blurred.subarray(rowsAt[i] * 64, rowsAt[i] * 64 + 64), i * 64); }
    return grid;
  }

  function quality(grid) {
    var total = 0, i, j;
    for (i = 0; i < 63; i++) {
      for (j = 0; j < 64; j++) { total += Math.abs(Math.trunc(f32(f32(f32(grid[i * 64 + j] - grid[(i + 1) * 64 + j]) * 100) / 255))); }
    }
    for (i = 0; i < 64; i++) {
      for (j = 0; j < 63; j++) { total += Math.abs(Math.trunc(f32(f32(f32(grid[i * 64 + j] - grid[i * 64 + j + 1]) * 100) / 255))); }
    }
    return Math.min(Math.floor(total / 90), 100);
  }

  function dct16(grid) {
    var t = new Float32Array(16 * 64), b = new Float32Array(256), i, j, k, sum;
    for (i = 0; i < 16; i++) {
      for (j = 0; j < 64; j++) {
        sum = 0;
        for (k = 0; k < 64; k++) { sum = f32(sum + f32(DCT[i * 64 + k] * grid[k * 64 + j])); }
        t[i * 64 + j] = sum;
      }
    }
    for (i = 0; i < 16; i++) {
      for (j = 0; j < 16; j++) {
        sum = 0;
        for (k = 0; k < 64; k++) { sum = f32(sum + f32(t[i * 64 + k] * DCT[j * 64 + k])); }
        b[i * 16 + j] = sum;
      }
    }
    return b;
  }

  // Bit 16 i + j is set when B[i, j] is above the median (the 128th smallest, as Torben's method
  // returns for 256 values); the hex prints word 15 (row 15) first, bit j of a word = column j.
  function toHex(block) {
    var median = Float32Array.from(block).sort()[127], hex = "";
    for (var i = 15; i >= 0; i--) {
      var word = 0;
      for (var j = 0; j < 16; j++) { if (block[i * 16 + j] > median) { word |= 1 << j; } }
      hex += word.toString(16).padStart(4, "0");
    }
    return hex;
  }

  function pdqFromRGBA(rgba, width, height) {
    if (width < 5 || height < 5) { return { hex: "0".repeat(64), quality: 0 }; }
    var grid = downsample(rgba, height, width);
    return { hex: toHex(dct16(grid)), quality: quality(grid) };
  }

  // ---------------------------------------------------------------- files
  function pixelsOf(source, width, height) {
    var canvas = document.createElement("canvas");
    canvas.width = width; canvas.height = height;
    var context = canvas.getContext("2d", { willReadFrequently: true, colorSpace: "srgb" });
    context.drawImage(source, 0, 0);
    var data = context.getImageData(0, 0, width, height).data;
    canvas.width = canvas.height = 0;
    return data;
  }

  function hashImage(blob) {
    return createImageBitmap(blob, { colorSpaceConversion: "none", premultiplyAlpha: "none" }).then(function (bitmap) {
      var result = pdqFromRGBA(pixelsOf(bitmap, bitmap.width, bitmap.height), bitmap.width, bitmap.height);
      result.width = bitmap.width; result.height = bitmap.height;
      bitmap.close();
      return result;
    });
  }

  function once(element, name) {
    return new Promise(function (resolve, reject) {
      function done(event) { element.removeEventListener(name, done); element.removeEventListener("error", fail); resolve(event); }
      function fail() { element.removeEventListener(name, done); reject(new Error("the video cannot be read")); }
      element.addEventListener(name, done);
      element.addEventListener("error", fail);
    });
  }

  // The PDQ of the frame on show. "seeked" can fire before the decoder has painted the frame (a busy
  // machine, or a seek to where the video already is), and the canvas then reads a blank picture (PDQ
  // all zeros, quality 0): look again a few times before taking a uniform frame as what the video shows.
  function presentedFrame(video, tries) {
    var hashed = pdqFromRGBA(pixelsOf(video, video.videoWidth, video.videoHeight), video.videoWidth, video.videoHeight);
    if (hashed.quality > 0 || tries <= 0) { return Promise.resolve(hashed); }
    return new Promise(function (resolve) { setTimeout(resolve, 30); }).then(function () {
      return presentedFrame(video, tries - 1);
    });
  }

  // Call before a seek; the function it returns waits (at most `patience` ms) until the seek's frame is on
  // show. Under load Chromium can fire "seeked" while the frame shown before is still the one a canvas reads;
  // requestVideoFrameCallback's callback comes once the new frame is presented (also for a video outside the
  // document, and for a seek to where the video already is). Browsers without it go on at "seeked".
  function framePresented(video) {
    if (!video.requestVideoFrameCallback) { return function () { return Promise.resolve(); }; }
    var presented = new Promise(function (resolve) { video.requestVideoFrameCallback(function () { resolve(); }); });
    return function (patience) {
      return Promise.race([presented, new Promise(function (resolve) { setTimeout(resolve, patience); })]);
    };
  }

  // One PDQ per `every` seconds (the first frame, then each multiple), at most `maxFrames`; the
  // interval stretches for long videos so the samples cover all of it. Consecutive identical hashes
  // are kept once, as the server's vPDQ does.
  function hashVideo(blob, every, maxFrames) {
    var video = document.createElement("video"), url = URL.createObjectURL(blob), frames = [];
    video.muted = true; video.preload = "auto";
    var loaded = once(video, "loadeddata");
    video.src = url;
    return loaded.then(function () {
      var duration = isFinite(video.duration) ? video.duration : 0, step = every;
      if (duration / step >= maxFrames) { step = duration / maxFrames; }
      var times = [];
      for (var at = 0; at < duration && times.length < maxFrames; at += step) { times.push(at); }
      if (!times.length) { times.push(0); }
      return times.reduce(function (chain, at) {
        return chain.then(function () {
          var shown = framePresented(video), seeked = once(video, "seeked");
          video.currentTime = at;
          return seeked.then(function () { return shown(1000); }).then(function () {
            return presentedFrame(video, 20);
          }).then(function (hashed) {
            if (!frames.length || frames[frames.length - 1].pdq !== hashed.hex) {
              frames.push({ t: Math.round(at * 1000) / 1000, pdq: hashed.hex, quality: hashed.quality });
            }
          });
        });
      }, Promise.resolve());
    }).then(function () {
      URL.revokeObjectURL(url); video.removeAttribute("src"); video.load();
      return frames;
    }, function (error) { URL.revokeObjectURL(url); throw error; });
  }

  // Everything sent for one file: its kind, exact hashes and PDQ (image) or frame PDQs (video).
  function hashFile(file) {
    var started = performance.now(), kind = (file.type || "").indexOf("video/") === 0 ? "video" : "image";
    return file.arrayBuffer().then(function (buffer) {
      return sha256(buffer).then(function (sha) {
        var out = { kind: kind, sha256: sha, md5: md5(new Uint8Array(buffer)) };
        var perceptual = kind === "video"
          ? hashVideo(file, 1.0, 120).then(function (frames) { out.frames = frames; })
          : hashImage(file).then(function (hashed) { out.pdq = hashed.hex; out.quality = hashed.quality; });
        return perceptual.then(function () { out.ms = Math.round(performance.now() - started); return out; });
      });
    });
  }

  root.HotlineHashing = { md5: md5, sha256: sha256, pdqFromRGBA: pdqFromRGBA, hashImage: hashImage,
    hashVideo: hashVideo, hashFile: hashFile };
})(window);
