#!/usr/bin/env python3
"""Drives Debian's chromium, headless, for the reference pages' tests
(tests/pages.rs) and benchmark (benches/pages.rs), through Selenium 4.8
(python3-selenium) and Debian's chromedriver: nothing is downloaded.

    pages_driver.py PROFILE_DIR

reads one JSON command per line on standard input and answers each with one
JSON line on standard output: {"ok": VALUE} or {"error": TEXT}.

    {"cmd": "viewport", "width": W, "height": H}   the page's exact viewport
    {"cmd": "open", "url": URL}
    {"cmd": "wait", "script": JS, "timeout": S}    until JS (an expression)
                                                   is truthy; answers its value
    {"cmd": "eval", "script": JS}                  `return JS;`
    {"cmd": "click", "css": SELECTOR}              a real click (WebDriver)
    {"cmd": "keys", "pad": SELECTOR, "keys": [K]}  clicks each [data-key=K]
    {"cmd": "screenshot", "paths": [FILE]}         the viewport as PNG, to each
    {"cmd": "layout"}                              overflow and the keys' sizes
    {"cmd": "type", "css": SELECTOR, "text": T}    keystrokes into an input
    {"cmd": "console"}                             the console's entries since
                                                   the last call
    {"cmd": "quit"}                                answers {"killed": [PID]}

chromedriver listens on a free loopback port that Selenium's Service picks;
chromium gets a fresh profile in PROFILE_DIR. At the end (quit, end of
input, SIGTERM) every process started here is killed by its PID:
chromedriver and each chromium process under it.
"""

import json
import os
import signal
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--window-size=1280,800",
]

driver = None
service = None


def descendants(pid):
    """The PIDs under `pid`, from /proc (children before their own)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


killed = []


def cleanup(*_):
    global driver
    pids = []
    if service is not None and service.process is not None:
        pids = [service.process.pid] + descendants(service.process.pid)
    if driver is not None:
        try:
            driver.quit()
        except Exception:
            pass
        driver = None
    for pid in pids:
        killed.append(pid)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if service is not None and service.process is not None:
        try:
            service.process.wait(timeout=5)
        except Exception:
            pass


def on_term(*_):
    cleanup()
    sys.exit(1)


def start(profile):
    global driver, service
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument("--user-data-dir=" + profile)
    # The pages' console, for the tests to read: CSP violations land there.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path="/usr/bin/chromedriver")
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(30)


def wait(script, timeout):
    deadline = time.monotonic() + timeout
    while True:
        value = driver.execute_script("return (" + script + ");")
        if value:
            # An element found answers true: it is no JSON.
            return value if isinstance(value, (str, int, float, bool, list, dict)) else True
        if time.monotonic() > deadline:
            raise TimeoutError("after %.1f s still false: %s" % (timeout, script))
        time.sleep(0.02)


LAYOUT = """
const root = document.documentElement;
const keys = Array.from(document.querySelectorAll('.key')).filter(k => k.offsetParent !== null)
  .map(k => { const r = k.getBoundingClientRect(); return [r.width, r.height]; });
const wide = Array.from(document.querySelectorAll('body *')).filter(e => e.offsetParent !== null)
  .filter(e => e.getBoundingClientRect().right > root.clientWidth + 0.5).map(e => e.tagName + '#' + e.id + '.' + e.className);
return {scrollWidth: root.scrollWidth, clientWidth: root.clientWidth, innerWidth: window.innerWidth,
        keys: keys, wide: wide.slice(0, 10)};
"""


def run(command):
    cmd = command["cmd"]
    if cmd == "viewport":
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": command["width"], "height": command["height"], "deviceScaleFactor": 1, "mobile": False})
        return True
    if cmd == "open":
        driver.get(command["url"])
        return True
    if cmd == "wait":
        return wait(command["script"], command.get("timeout", 10))
    if cmd == "eval":
        return driver.execute_script("return (" + command["script"] + ");")
    if cmd == "click":
        driver.find_element(By.CSS_SELECTOR, command["css"]).click()
        return True
    if cmd == "keys":
        for key in command["keys"]:
            driver.find_element(By.CSS_SELECTOR, '%s [data-key="%s"]' % (command["pad"], key)).click()
        return len(command["keys"])
    if cmd == "type":
        driver.find_element(By.CSS_SELECTOR, command["css"]).send_keys(command["text"])
        return True
    if cmd == "screenshot":
        png = driver.get_screenshot_as_png()
        for path in command["paths"]:
            with open(path, "wb") as f:
                f.write(png)
        return len(png)
    if cmd == "layout":
        return driver.execute_script(LAYOUT)
    if cmd == "console":
        return [entry.get("level", "") + " " + entry.get("message", "") for entry in driver.get_log("browser")]
    raise ValueError("unknown command %r" % cmd)


def main():
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    try:
        start(sys.argv[1])
        print(json.dumps({"ok": {"chromedriver": service.process.pid}}), flush=True)
        for line in sys.stdin:
            command = json.loads(line)
            if command["cmd"] == "quit":
                break
            try:
                answer = {"ok": run(command)}
            except Exception as e:  # the test shows it and fails
                answer = {"error": "%s: %s" % (type(e).__name__, str(e).splitlines()[0] if str(e) else "")}
            print(json.dumps(answer, ensure_ascii=False), flush=True)
    finally:
        cleanup()
    print(json.dumps({"ok": {"killed": killed}}), flush=True)


if __name__ == "__main__":
    main()
