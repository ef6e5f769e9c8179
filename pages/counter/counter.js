// The counter page (docs/unified-interface.md section 8): readers and card
// state live from the bridge's notifications, the card read with its photo,
// the PIN status, reload and unblock for staff, and the legacy basic line
// (the bridge's `basic_line`, formatted by the national interface's module,
// never here). sscard-bridge's JSON-RPC API only.
//
// The reload PINs are read from the two password inputs, which are cleared
// right after the call is sent. Nothing is stored or logged.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const readers = new Map(); // path -> { name, present: true | false | null }
  let selected = null;

  // The card-info keys shown, in order, with their labels.
  const FIELDS = [
    ["name", "姓名", "Name"],
    ["ssn", "社会保障号码", "Social security number"],
    ["sex", "性别", "Sex"],
    ["nation", "民族", "Nation"],
    ["birth_date", "出生日期", "Date of birth"],
    ["birthplace", "出生地", "Birthplace"],
    ["card_number", "社会保障卡卡号", "Card number"],
    ["card_id", "卡识别码", "Card identifier"],
    ["region", "发卡地区", "Region"],
    ["issuer", "发卡机构", "Issuer"],
    ["issue_date", "发卡日期", "Issue date"],
    ["expiry_date", "有效期至", "Expiry date"],
    ["spec_version", "规范版本", "Specification"],
    ["card_type", "卡类别", "Card type"],
    ["state", "卡状态", "State"],
    ["pin_tries_left", "密码剩余次数", "PIN tries left"],
    ["terminal_number", "终端号", "Terminal number"],
    ["inconsistent", "不一致的数据", "Inconsistent data"],
  ];
  const SEX = { "1": "男 Male", "2": "女 Female" };
  const STATE = { active: "已激活 Active", inactive: "未激活 Not activated", blank: "空白卡 Blank", unknown: "未知 Unknown" };

  function message(id, kind, zh, en) {
    const element = $(id);
    element.className = "message " + kind;
    if (zh === null) {
      element.textContent = "";
      return;
    }
    SSCard.bilingual(element, zh, en);
  }

  function failed(id, error) {
    const t = SSCard.errorText(error);
    message(id, "bad", t.zh, t.en);
    element(id).dataset.error = t.name;
  }

  function element(id) {
    return $(id);
  }

  function renderReaders() {
    const list = $("readers");
    list.textContent = "";
    if (selected !== null && !readers.has(selected)) selected = null;
    // "Automatic": the daemon finds the reader holding a social security
    // card (FindCard); or the reader clicked.
    const auto = document.createElement("li");
    auto.dataset.auto = "true";
    if (selected === null) auto.className = "selected";
    SSCard.bilingual(auto, "自动选择有社保卡的读卡器", "Automatic: the reader holding a social security card");
    auto.addEventListener("click", () => {
      selected = null;
      renderReaders();
    });
    list.append(auto);
    for (const [path, r] of readers) {
      const li = document.createElement("li");
      li.dataset.reader = path;
      if (path === selected) li.className = "selected";
      const name = document.createElement("span");
      name.textContent = r.name;
      const state = document.createElement("span");
      state.className = "state " + (r.present === true ? "present" : r.present === false ? "absent" : "");
      state.textContent =
        r.present && r.psam ? "PSAM" : r.present === true ? "有卡 Card in" : r.present === false ? "无卡 Empty" : "— 未知 Unknown";
      li.append(name, state);
      li.addEventListener("click", () => {
        selected = path;
        renderReaders();
      });
      list.append(li);
    }
    if (readers.size === 0) {
      const li = document.createElement("li");
      li.className = "none";
      SSCard.bilingual(li, "没有读卡器", "No reader");
      list.append(li);
    }
  }

  function params() {
    return selected ? { reader: selected } : {};
  }

  function clearHolder() {
    $("fields").tBodies[0].textContent = "";
    $("photo").hidden = true;
    $("photo").removeAttribute("src");
    $("basic-line").value = "";
  }

  function showCard(card) {
    const body = $("fields").tBodies[0];
    body.textContent = "";
    for (const [key, zh, en] of FIELDS) {
      if (card[key] === undefined || card[key] === null || card[key] === "") continue;
      let value = card[key];
      if (key === "sex") value = SEX[value] || value;
      if (key === "state") value = STATE[value] || value;
      if (key === "nation") value = String(value).padStart(2, "0");
      if (Array.isArray(value)) value = value.join("; ");
      const row = document.createElement("tr");
      row.dataset.key = key;
      const th = document.createElement("th");
      SSCard.bilingual(th, zh, en);
      const td = document.createElement("td");
      td.textContent = String(value);
      row.append(th, td);
      body.append(row);
    }
    if (card.photo) {
      $("photo").src = "data:image/jpeg;base64," + card.photo;
      $("photo").hidden = false;
    }
    $("basic-line").value = card.basic_line || "";
  }

  function setPresent(path, present) {
    const r = readers.get(path);
    if (r) {
      r.present = present;
      if (!present) r.psam = false;
    }
    renderReaders();
    // CardInserted comes once the daemon has classified the card: ask
    // what it is (a PSAM or a social security card).
    if (present) listReaders();
  }

  $("read").addEventListener("click", () => {
    message("read-message", "info", "正在读卡…", "Reading the card…");
    clearHolder();
    const asked = selected;
    bridge.call("ReadCard", Object.assign({ photo: true }, params())).then(
      (card) => {
        message("read-message", "ok", "读卡成功", "Card read");
        $("read-message").dataset.error = "";
        if (asked) setPresent(asked, true);
        showCard(card);
        message("card-state", "info", "卡片在读卡器中", "A card is in the reader");
      },
      (error) => {
        if (asked && error.name === "NoCard") setPresent(asked, false);
        failed("read-message", error);
      }
    );
  });

  $("pin-status").addEventListener("click", () => {
    message("status-result", "info", "正在查询…", "Asking the card…");
    bridge.call("GetPinStatus", params()).then(
      (s) => {
        if (s.blocked) message("status-result", "bad", "密码已锁定", "The PIN is blocked");
        else message("status-result", "ok", "密码剩余 " + s.tries_left + " 次", s.tries_left + " PIN tries left");
      },
      (error) => failed("status-result", error)
    );
  });

  $("reload-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const first = $("reload-pin");
    const second = $("reload-pin2");
    const same = first.value === second.value;
    const valid = /^[0-9]{4,12}$/.test(first.value);
    if (!same || !valid) {
      first.value = "";
      second.value = "";
      const t = same ? SSCard.ERRORS.PinLength : SSCard.ERRORS.PinsDiffer;
      message("staff-message", "bad", t[0], t[1]);
      return;
    }
    const request = Object.assign({ newPin: first.value }, params());
    const answer = bridge.call("ReloadPin", request);
    request.newPin = "";
    first.value = "";
    second.value = "";
    message("staff-message", "info", "正在重置密码…", "Reloading the PIN…");
    answer.then(
      () => message("staff-message", "ok", "密码已重置", "The PIN was reloaded"),
      (error) => failed("staff-message", error)
    );
  });

  $("unblock").addEventListener("click", () => {
    message("staff-message", "info", "正在解锁…", "Unblocking…");
    bridge.call("UnblockPin", params()).then(
      () => message("staff-message", "ok", "密码已解锁", "The PIN was unblocked"),
      (error) => failed("staff-message", error)
    );
  });

  $("copy").addEventListener("click", () => {
    const box = $("basic-line");
    box.select();
    const done = () => message("read-message", "ok", "已复制基本信息串", "The basic line was copied");
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(box.value).then(done, () => {
        if (document.execCommand("copy")) done();
      });
    } else if (document.execCommand("copy")) {
      done();
    }
  });

  function listReaders() {
    bridge.call("ListReaders", {}).then(
      (list) => {
        const before = new Map(readers);
        readers.clear();
        for (const r of list) {
          const old = before.get(r.path);
          // The bridge says what each reader holds now ("none", "ssse",
          // "psam", "unknown"); notifications keep it current.
          const present = typeof r.card === "string" ? r.card !== "none" : old ? old.present : null;
          readers.set(r.path, { name: r.name, present, psam: r.card === "psam" });
        }
        renderReaders();
      },
      (error) => failed("card-state", error)
    );
  }

  const bridge = new SSCard.Bridge({
    onState: (open) => {
      const c = $("connection");
      if (open) {
        SSCard.bilingual(c, "读卡服务已连接", "Card service connected");
        c.className = "connection";
        listReaders();
      } else {
        const t = SSCard.ERRORS.BridgeUnreachable;
        SSCard.bilingual(c, t[0], t[1]);
        c.className = "connection down";
      }
    },
    onRetry: () => {
      const c = $("connection");
      const t = SSCard.ERRORS.BridgeUnreachable;
      SSCard.bilingual(c, t[0], t[1]);
      c.className = "connection down";
    },
    onNotification: (method, p) => {
      if (method === "CardInserted") {
        setPresent(p.reader, true);
        if (p.reader === selected || selected === null) {
          message("card-state", "info", "已插入卡片,可以读卡", "A card was inserted; it can be read");
          $("card-state").dataset.state = "inserted";
        }
      } else if (method === "CardRemoved") {
        setPresent(p.reader, false);
        if (p.reader === selected || selected === null) {
          // The holder's data leaves the screen with the card.
          clearHolder();
          message("read-message", "info", null, null);
          message("card-state", "bad", "卡片已取出", "The card was removed");
          $("card-state").dataset.state = "removed";
        }
      } else if (method === "ReaderAdded") {
        readers.set(p.reader, { name: p.name, present: null });
        renderReaders();
        listReaders();
      } else if (method === "ReaderRemoved") {
        readers.delete(p.reader);
        renderReaders();
      }
    },
  });
  renderReaders();
})();
