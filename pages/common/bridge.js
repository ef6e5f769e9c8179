// sscard-bridge's JSON-RPC 2.0 client for the reference pages
// (docs/unified-interface.md section 8). Plain JavaScript, no build step.
//
//   const bridge = new SSCard.Bridge({ onNotification(method, params) {},
//                                      onState(open) {} });
//   bridge.call("ReadCard", { photo: true }).then(result => …, error => …);
//
// - The socket is the page's own bridge: ws://HOST:PORT/ of `location`.
// - Each request has an id; the bridge answers a connection's calls in order,
//   and each answer settles the promise of its id.
// - Notifications (CardInserted, CardRemoved, ReaderAdded, ReaderRemoved) go
//   to onNotification.
// - When the bridge goes away, every pending call fails with the error name
//   "BridgeUnreachable", and the client reconnects with a backoff (0.25 s
//   doubling to 5 s).
// - A failed call rejects with an SSCard.BridgeError: `name` is the D-Bus
//   error's name (`WrongPin`, `NoCard`, …) from error.data, `message` the
//   daemon's one line. Nothing is logged: requests may hold PINs.
"use strict";

var SSCard = window.SSCard || {};
window.SSCard = SSCard;

SSCard.BridgeError = class BridgeError extends Error {
  constructor(name, message, statusWord) {
    super(message || name);
    this.name = name;
    this.statusWord = statusWord || null;
  }
};

SSCard.socketUrl = function () {
  return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/";
};

SSCard.Bridge = class Bridge {
  constructor(handlers) {
    this.handlers = handlers || {};
    this.nextId = 1;
    this.pending = new Map();
    this.socket = null;
    this.open = false;
    this.backoff = 250;
    this.timer = null;
    // Connected from the event loop, once the page holds the client.
    this.timer = setTimeout(() => this.connect(), 0);
  }

  connect() {
    this.timer = null;
    let socket;
    try {
      socket = new WebSocket(SSCard.socketUrl());
    } catch (e) {
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      this.open = true;
      this.backoff = 250;
      this.emitState();
    };
    socket.onmessage = (event) => this.receive(event.data);
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = null;
      const wasOpen = this.open;
      this.open = false;
      this.failPending();
      if (wasOpen) this.emitState();
      this.scheduleReconnect();
    };
    socket.onerror = () => {};
  }

  scheduleReconnect() {
    if (this.timer !== null) return;
    const delay = this.backoff;
    this.backoff = Math.min(this.backoff * 2, 5000);
    this.timer = setTimeout(() => this.connect(), delay);
    if (this.handlers.onRetry) this.handlers.onRetry(delay);
  }

  emitState() {
    if (this.handlers.onState) this.handlers.onState(this.open);
  }

  failPending() {
    const pending = Array.from(this.pending.values());
    this.pending.clear();
    for (const p of pending) {
      p.reject(new SSCard.BridgeError("BridgeUnreachable", "the bridge closed the connection"));
    }
  }

  receive(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch (e) {
      return;
    }
    if (message === null || typeof message !== "object") return;
    if (message.id !== undefined && message.id !== null && this.pending.has(message.id)) {
      const p = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.error) {
        const data = message.error.data || {};
        const name = data.name || "JsonRpc" + message.error.code;
        p.reject(new SSCard.BridgeError(name, message.error.message, data.statusWord));
      } else {
        p.resolve(message.result);
      }
    } else if (typeof message.method === "string" && message.id === undefined) {
      if (this.handlers.onNotification) this.handlers.onNotification(message.method, message.params || {});
    }
  }

  // Sends one request. The request's text is built and sent here, at
  // once: a caller holding PINs may wipe them as soon as this returns.
  call(method, params) {
    if (!this.open || this.socket === null) {
      return Promise.reject(new SSCard.BridgeError("BridgeUnreachable", "the bridge is not connected"));
    }
    const id = this.nextId++;
    const promise = new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
    try {
      this.socket.send(JSON.stringify({ jsonrpc: "2.0", id: id, method: method, params: params || {} }));
    } catch (e) {
      this.pending.delete(id);
      return Promise.reject(new SSCard.BridgeError("BridgeUnreachable", "the bridge is not connected"));
    }
    return promise;
  }
};

// Wipes an array of PIN digits: overwritten, then emptied.
SSCard.wipe = function (digits) {
  digits.fill("0");
  digits.length = 0;
};

// An element of `tag` with class `cls` and the texts `zh` and `en` as two
// lines (Chinese first, English beneath).
SSCard.bilingual = function (element, zh, en) {
  element.textContent = "";
  const first = document.createElement("span");
  first.className = "zh";
  first.textContent = zh;
  const second = document.createElement("span");
  second.className = "en";
  second.textContent = en;
  element.append(first, second);
};
