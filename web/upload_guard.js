// Checks a photo in the browser before an image input takes it, so a file the app cannot
// use gets a clear message at once instead of a frozen page or nothing at all: a file that
// is not an image the browser can show, one with more pixels than the server accepts
// (read from its header, before anything decodes it), one larger than the server takes.
// Also reports an upload the server refused for its size (HTTP 413), which Gradio's image
// editor only logs to the console. app.py fills in AEAPP_LIMITS and adds this to the page.
(() => {
  const LIMITS = window.AEAPP_LIMITS;
  const GUARDED = LIMITS.guarded.join(", ");
  const SHOWN = "PNG, JPEG, WebP, GIF or BMP";
  const released = new WeakSet(); // events this script re-dispatched after a file passed

  // The image editor shows a copy it re-encodes itself, without the photo's EXIF or colour
  // profile: the file a user chose for it also goes to the server, into a hidden file input.
  function keepSourceFile(file, zone) {
    const source = document.querySelector(LIMITS.source + " input[type=file]");
    if (!source || !zone.closest(LIMITS.editor)) return;
    const data = new DataTransfer();
    data.items.add(file);
    source.files = data.files;
    source.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function showMessage(text) {
    let box = document.getElementById("aeapp-message");
    if (!box) {
      box = document.createElement("div");
      box.id = "aeapp-message";
      box.setAttribute("role", "alert");
      box.style.cssText = "position:fixed;top:16px;right:16px;z-index:10000;max-width:420px;padding:12px 36px 12px 14px;" +
        "background:var(--background-fill-primary,#fff);color:var(--body-text-color,#111);border:1px solid #e5484d;" +
        "border-left:6px solid #e5484d;border-radius:8px;box-shadow:0 4px 16px rgba(0,0,0,.18);font:14px/1.45 sans-serif";
      const close = document.createElement("button");
      close.textContent = "\u00d7";
      close.setAttribute("aria-label", "Close message");
      close.style.cssText = "position:absolute;top:4px;right:8px;border:0;background:none;font-size:20px;cursor:pointer;color:inherit";
      close.onclick = () => box.remove();
      box.append(document.createElement("span"), close);
      document.body.append(box);
    }
    box.firstChild.textContent = text;
    clearTimeout(box.hideTimer);
    box.hideTimer = setTimeout(() => box.remove(), 15000);
  }

  const u16be = (b, i) => (b[i] << 8) | b[i + 1];
  const u32be = (b, i) => ((b[i] << 24) >>> 0) + (b[i + 1] << 16) + (b[i + 2] << 8) + b[i + 3];
  const u16le = (b, i) => b[i] | (b[i + 1] << 8);
  const u24le = (b, i) => b[i] | (b[i + 1] << 8) | (b[i + 2] << 16);
  const s32le = (b, i) => b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24);
  const text = (b, i, n) => String.fromCharCode(...b.subarray(i, i + n));

  // {width, height} from the first bytes of a PNG, GIF, BMP or WebP, or from a JPEG's frame
  // header; null for anything else.
  function headerSize(b) {
    if (b.length >= 24 && b[0] === 0x89 && text(b, 1, 3) === "PNG") return { width: u32be(b, 16), height: u32be(b, 20) };
    if (b.length >= 10 && text(b, 0, 3) === "GIF") return { width: u16le(b, 6), height: u16le(b, 8) };
    if (b.length >= 26 && text(b, 0, 2) === "BM") return { width: Math.abs(s32le(b, 18)), height: Math.abs(s32le(b, 22)) };
    if (b.length >= 30 && text(b, 0, 4) === "RIFF" && text(b, 8, 4) === "WEBP") {
      const chunk = text(b, 12, 4);
      if (chunk === "VP8X") return { width: u24le(b, 24) + 1, height: u24le(b, 27) + 1 };
      if (chunk === "VP8 ") return { width: u16le(b, 26) & 0x3fff, height: u16le(b, 28) & 0x3fff };
      if (chunk === "VP8L") {
        const bits = b[21] | (b[22] << 8) | (b[23] << 16) | (b[24] << 24);
        return { width: (bits & 0x3fff) + 1, height: ((bits >> 14) & 0x3fff) + 1 };
      }
      return null;
    }
    if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) {
      let i = 2;
      while (i + 9 < b.length) {
        if (b[i] !== 0xff) { i += 1; continue; }
        const marker = b[i + 1];
        if (marker === 0xff || marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { i += 2; continue; }
        const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
        if (isFrame) return { width: u16be(b, i + 7), height: u16be(b, i + 5) };
        i += 2 + u16be(b, i + 2);
      }
      return null;
    }
    return null;
  }

  // A message for a file the app cannot take, or null when it can.
  async function problem(file) {
    const name = file.name || "The pasted image";
    if (file.size === 0) return `${name} is empty (0 bytes), not an image.`;
    if (file.size > LIMITS.maxBytes) {
      return `${name} is ${(file.size / 2 ** 20).toFixed(0)} MB; this app takes uploads up to ${LIMITS.maxFileSize}.`;
    }
    // Headers sit at the start, a JPEG's frame header after its metadata (EXIF, thumbnails).
    const bytes = new Uint8Array(await file.slice(0, 1 << 20).arrayBuffer());
    const size = headerSize(bytes);
    if (!size) return `${name} is not an image this page can show; use ${SHOWN} (the command line also reads TIFF and HEIC).`;
    const pixels = size.width * size.height;
    if (pixels > LIMITS.maxPixels) {
      return `${name} is ${size.width}x${size.height} (${(pixels / 1e6).toFixed(1)} megapixels); ` +
        `the limit here is ${(LIMITS.maxPixels / 1e6).toFixed(0)} megapixels. Scale it down, or repair it with the command line.`;
    }
    try {
      (await createImageBitmap(file)).close();
    } catch (e) {
      return `${name} could not be decoded: it is damaged or truncated, or not the image its name says.`;
    }
    return null;
  }

  // File choosers: hold the change until the file is checked, then let it through.
  document.addEventListener("change", (event) => {
    const input = event.target;
    if (released.has(event) || !(input instanceof HTMLInputElement) || input.type !== "file" || !input.closest(GUARDED)) return;
    const file = input.files && input.files[0];
    if (!file) return;
    event.stopImmediatePropagation();
    problem(file).then((message) => {
      if (message) {
        input.value = "";
        showMessage(message);
        return;
      }
      const again = new Event("change", { bubbles: true });
      released.add(again);
      input.dispatchEvent(again);
      keepSourceFile(file, input);
    });
  }, true);

  // Dropped files: the same, with the files copied into a new drop event.
  document.addEventListener("drop", (event) => {
    const zone = event.target instanceof Element && event.target.closest(GUARDED);
    const file = event.dataTransfer && event.dataTransfer.files && event.dataTransfer.files[0];
    if (released.has(event) || !zone || !file) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    const target = event.target;
    problem(file).then((message) => {
      if (message) {
        showMessage(message);
        return;
      }
      const data = new DataTransfer();
      data.items.add(file);
      const again = new DragEvent("drop", { bubbles: true, cancelable: true, dataTransfer: data });
      released.add(again);
      target.dispatchEvent(again);
      keepSourceFile(file, zone);
    });
  }, true);

  // Uploads the server refused for their size: the image editor sends its photo again on
  // every repair, re-encoded as PNG, which can be larger than the file the user chose.
  const fetchBefore = window.fetch;
  window.fetch = async (...args) => {
    const response = await fetchBefore(...args);
    const url = String(args[0] && args[0].url ? args[0].url : args[0]);
    if (response.status === 413 && url.includes("/upload")) {
      showMessage(`This photo is too large to send to the server: as the editor sends it (a PNG) it is over the ` +
        `${LIMITS.maxFileSize} limit. Scale it down, or repair it with the command line.`);
    }
    return response;
  };
})();
