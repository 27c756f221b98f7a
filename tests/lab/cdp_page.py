#!/usr/bin/python3
# cdp_page.py URL: open URL in one headless Chromium page and keep it open;
# each line on stdin is a JavaScript expression evaluated in that page, its
# value printed as one line of JSON ({"error": ...} when it throws or times
# out). The DevTools protocol runs over --remote-debugging-pipe (fds 3 and 4),
# so no websocket library is needed. EOF on stdin closes the browser.
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time

REPLY_TIMEOUT_S = 20


class Browser:
    def __init__(self, url):
        to_r, self.to_w = os.pipe()    # we write, Chromium reads fd 3
        self.from_r, from_w = os.pipe()  # Chromium writes fd 4, we read

        def fds():
            os.dup2(to_r, 3)
            os.dup2(from_w, 4)

        log = open(os.path.join(os.environ.get("LAB_TMP", "/tmp"), "chromium.log"), "ab")
        self.profile = tempfile.mkdtemp(prefix="cdp-", dir=os.environ.get("LAB_TMP", "/tmp"))
        self.proc = subprocess.Popen(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--remote-debugging-pipe", "--user-data-dir=" + self.profile, "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
            pass_fds=(3, 4),
            preexec_fn=fds)
        os.close(to_r)
        os.close(from_w)
        log.close()
        self.buf = b""
        self.next_id = 0
        target = self.call("Target.createTarget", {"url": url})["targetId"]
        self.session = self.call("Target.attachToTarget",
                                 {"targetId": target, "flatten": True})["sessionId"]
        # the new page starts as about:blank: wait until URL itself has loaded
        deadline = time.monotonic() + REPLY_TIMEOUT_S
        while True:
            try:
                if self.evaluate("document.readyState === 'complete' && "
                                 "location.href !== 'about:blank'"):
                    break
            except RuntimeError:
                pass  # the context went away while navigating
            if time.monotonic() > deadline:
                raise RuntimeError("%s did not load in %d s" % (url, REPLY_TIMEOUT_S))
            time.sleep(0.2)

    def call(self, method, params, session=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self.to_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + REPLY_TIMEOUT_S
        while True:
            while b"\0" in self.buf:
                raw, self.buf = self.buf.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") != self.next_id:
                    continue  # an event, or a late reply
                if "error" in reply:
                    raise RuntimeError(reply["error"].get("message", str(reply["error"])))
                return reply["result"]
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.from_r], [], [], left)[0]:
                raise RuntimeError("no reply to %s in %d s" % (method, REPLY_TIMEOUT_S))
            chunk = os.read(self.from_r, 65536)
            if not chunk:
                raise RuntimeError("browser closed the pipe")
            self.buf += chunk

    def evaluate(self, expr):
        r = self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True,
                                           "awaitPromise": True}, self.session)
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise RuntimeError(d.get("exception", {}).get("description", d.get("text")))
        return r["result"].get("value")

    def close(self):
        try:
            self.call("Browser.close", {})
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        subprocess.run(["rm", "-rf", self.profile])


def main():
    # a test's cleanup kills this helper: close the browser on the way out
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    b = Browser(sys.argv[1])
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            try:
                out = {"value": b.evaluate(line)}
            except Exception as e:  # one bad expression must not end the page
                out = {"error": str(e)}
            sys.stdout.write(json.dumps(out) + "\n")
            sys.stdout.flush()
    finally:
        b.close()


main()
