// The workspace's camera: read a label's QR code or a pack's EAN-13 and send it to the check
// form. The browser's BarcodeDetector where it reads QR codes; else the vendored ZXing
// decoder (@zxing/library, static/zxing.min.js), fetched only then. Without a camera, or
// with scripts off, the inspector types or pastes the code: the form works without this file.
(function () {
  "use strict";
  var form = document.getElementById("scan-form");
  var button = document.getElementById("camera");
  if (!form || !button || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return;
  }
  var viewer = document.getElementById("viewer");
  var video = document.getElementById("video");
  var status = document.getElementById("camera-status");
  var canvas = document.createElement("canvas");
  var label = button.textContent;
  var stream = null;
  var timer = null;
  button.hidden = false;

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = src;
      script.onload = resolve;
      script.onerror = reject;
      document.head.appendChild(script);
    });
  }

  async function nativeDetector() {
    if (!("BarcodeDetector" in window)) {
      return null;
    }
    try {
      var formats = await window.BarcodeDetector.getSupportedFormats();
      if (formats.indexOf("qr_code") < 0) {
        return null;
      }
      var wanted = ["qr_code", "ean_13"].filter(function (f) { return formats.indexOf(f) >= 0; });
      var detector = new window.BarcodeDetector({ formats: wanted });
      return {
        name: "BarcodeDetector",
        read: async function () {
          var found = await detector.detect(video);
          return found.length ? found[0].rawValue : null;
        },
      };
    } catch (e) {
      return null;
    }
  }

  async function zxingDetector() {
    if (!window.ZXing) {
      await loadScript(form.dataset.decoder);
    }
    var Z = window.ZXing;
    var hints = new Map();
    hints.set(Z.DecodeHintType.POSSIBLE_FORMATS, [Z.BarcodeFormat.QR_CODE, Z.BarcodeFormat.EAN_13]);
    hints.set(Z.DecodeHintType.TRY_HARDER, true);
    var reader = new Z.MultiFormatReader();
    reader.setHints(hints);
    var context = canvas.getContext("2d", { willReadFrequently: true });
    return {
      name: "zxing",
      read: async function () {
        if (!video.videoWidth) {
          return null;
        }
        canvas.width = video.videoWidth;
        canvas.height = video.videoHeight;
        context.drawImage(video, 0, 0);
        try {
          var source = new Z.HTMLCanvasElementLuminanceSource(canvas);
          return reader.decode(new Z.BinaryBitmap(new Z.HybridBinarizer(source))).getText();
        } catch (e) {
          return null; // no code in this frame
        }
      },
    };
  }

  function stop() {
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    if (stream) {
      stream.getTracks().forEach(function (track) { track.stop(); });
      stream = null;
    }
    viewer.hidden = true;
    button.textContent = label;
  }

  async function start() {
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: "environment" },
        audio: false,
      });
    } catch (e) {
      status.textContent = button.dataset.none;
      viewer.hidden = false;
      return;
    }
    video.srcObject = stream;
    viewer.hidden = false;
    button.textContent = button.dataset.stop;
    await video.play();
    var detector = (await nativeDetector()) || (await zxingDetector());
    form.dataset.detector = detector.name;
    async function look() {
      if (!stream) {
        return;
      }
      var text = await detector.read();
      if (text) {
        stop();
        form.elements.code.value = text;
        form.elements.via.value = detector.name;
        form.submit();
        return;
      }
      timer = setTimeout(look, 150);
    }
    look();
  }

  button.addEventListener("click", function () {
    if (stream) {
      stop();
    } else {
      start();
    }
  });
})();
