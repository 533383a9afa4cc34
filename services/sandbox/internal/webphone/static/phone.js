// The web phone: sends the user's text through the sandbox (which signs the webhook) and polls the chat.
(function () {
  "use strict";
  var root = document.querySelector(".phone");
  var our = root.getAttribute("data-our");
  var userInput = document.getElementById("user");
  var chat = document.getElementById("chat");
  var form = document.getElementById("compose");
  var text = document.getElementById("text");
  var errorBox = document.getElementById("error");
  var hint = document.getElementById("hint");
  var shown = "";

  function fail(msg) { errorBox.textContent = msg; errorBox.hidden = !msg; }

  function render(list) {
    var key = JSON.stringify(list);
    if (key === shown) { return; }
    shown = key;
    hint.hidden = list.length > 0;
    chat.textContent = "";
    list.forEach(function (m) {
      var li = document.createElement("li");
      li.className = "msg " + (m.direction === "out" ? "mine" : "theirs");
      var b = document.createElement("div");
      b.className = "bubble";
      b.textContent = m.text;
      var meta = document.createElement("div");
      meta.className = "meta";
      var t = new Date(m.at);
      meta.textContent = t.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
      if (m.receipt) {
        var r = document.createElement("span");
        r.className = "receipt r-" + m.receipt;
        r.textContent = m.receipt;
        meta.appendChild(document.createTextNode(" · "));
        meta.appendChild(r);
      }
      li.appendChild(b);
      li.appendChild(meta);
      chat.appendChild(li);
    });
    window.scrollTo(0, document.body.scrollHeight);
  }

  function poll() {
    var q = "?our=" + encodeURIComponent(our) + "&user=" + encodeURIComponent(userInput.value.trim());
    fetch("/sandbox/chat" + q, { cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(render)
      .catch(function () {})
      .then(function () { setTimeout(poll, 600); });
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var body = JSON.stringify({ from: userInput.value.trim(), to: our, text: text.value });
    fail("");
    fetch("/sandbox/inbound", { method: "POST", headers: { "Content-Type": "application/json" }, body: body })
      .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, j: j }; }); })
      .then(function (res) {
        if (!res.ok) { fail(res.j.error || "not sent"); return; }
        text.value = "";
      })
      .catch(function () { fail("The sandbox is not reachable."); });
  });
  userInput.addEventListener("change", function () { shown = ""; });
  poll();
})();
