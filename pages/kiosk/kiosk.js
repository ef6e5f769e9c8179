// The kiosk activation page (docs/unified-interface.md section 8): eight
// steps on a touch screen, over sscard-bridge's JSON-RPC API only.
//
// URL parameters (the kiosk shell's):
//   ?ssn=ID      the holder's ID number, read by the shell (e.g. from the ID
//                card reader): step 3 shows it filled, confirmed with one touch.
//   ?idle=SECONDS  the idle limit: that long without a touch on any step
//                but the first and the card's work (6), the page returns
//                to the start (default 60).
//
// PINs: the digits live only in the arrays of `pins`, never in the DOM (the
// masked display shows dots from a count) nor in storage, the URL or the
// console. They are wiped (fill, length 0) right after Activate is sent,
// and on every return to the start and every error.
"use strict";

(function () {
  const PIN_LENGTH = 6;
  const SSN_LENGTH = 18;
  const params = new URLSearchParams(location.search);
  const idleSeconds = Math.max(1, Number(params.get("idle")) || 60);
  const givenSsn = (params.get("ssn") || "").trim().toUpperCase();
  const $ = (id) => document.getElementById(id);

  const pins = { initial: [], first: [], second: [] };
  let ssn = [];
  let step = 1;
  let flow = 0; // bumped on each return to the start: stale answers are ignored
  let reader = null; // the reader holding the card of this flow
  let reading = false;
  let newPhase = "first";
  let lastTouch = Date.now();
  let leaveTimer = null;

  function wipePins() {
    SSCard.wipe(pins.initial);
    SSCard.wipe(pins.first);
    SSCard.wipe(pins.second);
  }

  function wipeAll() {
    wipePins();
    ssn.length = 0;
  }

  function show(n) {
    step = n;
    document.body.dataset.step = String(n);
    for (let i = 1; i <= 8; i++) $("step-" + i).hidden = i !== n;
    for (const li of document.querySelectorAll("#steps li")) {
      const k = Number(li.dataset.for);
      li.className = k < n ? "done" : k === n ? "current" : "";
    }
  }

  function note(id, texts) {
    const element = $(id);
    if (!texts) {
      element.textContent = "";
      return;
    }
    SSCard.bilingual(element, texts[0], texts[1]);
  }

  // Back to step 1: everything entered and read is forgotten. A card still
  // in the reader is not read again (the idle return must not show its
  // holder again): the next insertion starts the next flow.
  function start() {
    flow++;
    wipeAll();
    clearTimeout(leaveTimer);
    reader = null;
    reading = false;
    newPhase = "first";
    $("holder-name").textContent = "";
    $("holder-photo").removeAttribute("src");
    for (const id of ["ssn-note", "initial-note", "new-note", "result", "insert-note"]) note(id, null);
    $("result-retry").hidden = true;
    render();
    show(1);
  }

  // A card already in a reader when the page (or the bridge) starts.
  function probe() {
    if (step !== 1 || reading) return;
    readCard(null, true);
  }

  function readCard(from, quiet) {
    if (reading) return;
    reading = true;
    const mine = flow;
    const request = { photo: true };
    if (from) request.reader = from;
    bridge.call("ReadCard", request).then(
      (card) => {
        if (mine !== flow) return;
        reading = false;
        reader = from;
        $("holder-name").textContent = card.name || "";
        if (card.photo) $("holder-photo").src = "data:image/jpeg;base64," + card.photo;
        else $("holder-photo").removeAttribute("src");
        if (card.state === "active") return fail({ name: "AlreadyActive" });
        if (card.state === "blank") return fail({ name: "HolderMismatch" });
        show(2);
      },
      (error) => {
        if (mine !== flow) return;
        reading = false;
        if (quiet && error.name === "NoCard") return;
        // Said on step 1, which stays: no card (or gone already), no
        // bridge, or not a social security card (a bank card, or the
        // technician's PSAM in its own reader).
        if (["NoCard", "CardRemoved", "BridgeUnreachable", "NotSupported"].includes(error.name)) {
          const t = SSCard.errorText(error);
          note("insert-note", [t.zh, t.en]);
          return;
        }
        fail(error);
      }
    );
  }

  // Step 7 with the error's text; the PINs are wiped (the ID number stays
  // for a retry of the initial PIN).
  function fail(error) {
    wipePins();
    render();
    const t = SSCard.errorText(error);
    SSCard.bilingual($("result"), t.zh, t.en);
    $("result").className = "prompt bad";
    $("result-icon").className = "prompt-icon failed";
    $("result-retry").hidden = t.name !== "WrongPin" || SSCard.triesLeft(error) === 0;
    $("result").dataset.error = t.name;
    show(7);
  }

  function succeed() {
    SSCard.bilingual($("result"), "激活成功!新密码已生效。", "Activated. Your new PIN is now in effect.");
    $("result").className = "prompt ok";
    $("result-icon").className = "prompt-icon succeeded";
    $("result").dataset.error = "";
    $("result-retry").hidden = true;
    show(7);
  }

  // The masked displays: dots from counts, never the digits.
  function dots(id, count) {
    const element = $(id);
    element.textContent = "";
    for (let i = 0; i < PIN_LENGTH; i++) {
      const dot = document.createElement("span");
      dot.className = i < count ? "dot filled" : "dot";
      element.append(dot);
    }
  }

  function render() {
    $("ssn-display").textContent = ssn.join("") || "\u00a0";
    dots("initial-dots", pins.initial.length);
    dots("new-dots", pins[newPhase].length);
    if (newPhase === "first") {
      SSCard.bilingual($("new-prompt"), "请设置新密码", "Please choose a new PIN");
    } else {
      SSCard.bilingual($("new-prompt"), "请再次输入新密码", "Please enter the new PIN again");
    }
  }

  const LABELS = {
    back: ["退格", "Delete"],
    ok: ["确定", "OK"],
  };

  function keypad(id, keys, onKey) {
    const pad = $(id);
    for (const key of keys) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "key" + (key.length > 1 ? " key-" + key : "");
      button.dataset.key = key;
      if (LABELS[key]) SSCard.bilingual(button, LABELS[key][0], LABELS[key][1]);
      else button.textContent = key;
      button.addEventListener("click", () => onKey(key));
      pad.append(button);
    }
  }

  const DIGITS = ["1", "2", "3", "4", "5", "6", "7", "8", "9"];

  keypad("ssn-keypad", DIGITS.concat(["X", "0", "back", "ok"]), (key) => {
    note("ssn-note", null);
    if (key === "back") ssn.pop();
    else if (key === "ok") {
      if (ssn.length !== SSN_LENGTH) {
        const t = SSCard.ERRORS.SsnLength;
        note("ssn-note", t);
      } else show(4);
    } else if (ssn.length < SSN_LENGTH) ssn.push(key);
    render();
  });

  function pinKey(array, key, done) {
    if (key === "back") array.pop();
    else if (key === "ok") {
      if (array.length !== PIN_LENGTH) return false;
      done();
    } else if (array.length < PIN_LENGTH) array.push(key);
    render();
    return true;
  }

  // The PIN pads: digits only; the OK key is the 12th.
  const PIN_KEYS = DIGITS.concat(["back", "0", "ok"]);

  keypad("initial-keypad", PIN_KEYS, (key) => {
    note("initial-note", null);
    const ok = pinKey(pins.initial, key, () => {
      newPhase = "first";
      render();
      show(5);
    });
    if (!ok) note("initial-note", SSCard.ERRORS.PinLength);
  });

  keypad("new-keypad", PIN_KEYS, (key) => {
    note("new-note", null);
    const array = pins[newPhase];
    const ok = pinKey(array, key, () => {
      if (newPhase === "first") {
        newPhase = "second";
        render();
        return;
      }
      const same = pins.first.length === pins.second.length && pins.first.every((d, i) => d === pins.second[i]);
      if (!same) {
        SSCard.wipe(pins.first);
        SSCard.wipe(pins.second);
        newPhase = "first";
        render();
        note("new-note", SSCard.ERRORS.PinsDiffer);
        return;
      }
      activate();
    });
    if (!ok) note("new-note", SSCard.ERRORS.PinLength);
  });

  function activate() {
    show(6);
    const mine = flow;
    const request = { ssn: ssn.join(""), initialPin: pins.initial.join(""), newPin: pins.first.join("") };
    if (reader) request.reader = reader;
    const answer = bridge.call("Activate", request);
    // Sent: the page forgets the PINs now.
    request.initialPin = "";
    request.newPin = "";
    wipePins();
    newPhase = "first";
    render();
    answer.then(
      () => {
        if (mine === flow) succeed();
      },
      (error) => {
        if (mine === flow) fail(error);
      }
    );
  }

  $("holder-yes").addEventListener("click", () => {
    if (givenSsn) {
      ssn = givenSsn.split("");
      $("ssn-keypad").hidden = true;
      $("ssn-given").hidden = false;
    }
    render();
    show(3);
  });
  $("holder-no").addEventListener("click", () => show(8));
  $("ssn-confirm").addEventListener("click", () => show(4));
  $("result-ok").addEventListener("click", () => {
    wipeAll();
    show(8);
  });
  $("result-retry").addEventListener("click", () => {
    wipePins();
    newPhase = "first";
    render();
    show(4);
  });

  function touched() {
    lastTouch = Date.now();
  }
  document.addEventListener("pointerdown", touched, true);
  document.addEventListener("keydown", touched, true);
  document.addEventListener("click", touched, true);

  // The idle limit: any step but the first and the card's work.
  setInterval(() => {
    if (step !== 1 && step !== 6 && Date.now() - lastTouch > idleSeconds * 1000) start();
  }, 250);

  function removed() {
    if (step === 1) return;
    if (step >= 2 && step <= 6) {
      fail({ name: "CardRemovedMidFlow" });
      $("result-retry").hidden = true;
      // The message stays a moment, then the start.
      const mine = flow;
      leaveTimer = setTimeout(() => {
        if (mine === flow) start();
      }, 4000);
      return;
    }
    start();
  }

  function connection(open) {
    const element = $("connection");
    if (open) {
      SSCard.bilingual(element, "读卡服务已连接", "Card service connected");
      element.className = "connection";
      note("insert-note", null);
      probe();
    } else {
      const t = SSCard.ERRORS.BridgeUnreachable;
      SSCard.bilingual(element, t[0], t[1]);
      element.className = "connection down";
      if (step === 1) note("insert-note", t);
      else if (step !== 7 && step !== 8) fail({ name: "BridgeUnreachable" });
    }
  }

  const bridge = new SSCard.Bridge({
    onState: connection,
    onRetry: () => {
      if (!bridge || bridge.open) return;
      connection(false);
    },
    onNotification: (method, p) => {
      if (method === "CardInserted" && step === 1) {
        touched();
        note("insert-note", null);
        readCard(p.reader, false);
      } else if (method === "CardRemoved" && (reader === null || p.reader === reader)) {
        removed();
      } else if (method === "ReaderRemoved" && p.reader === reader) {
        removed();
      }
    },
  });

  render();
  show(1);
})();
