// Live updates for the console: one EventSource on /console/events. A "change" names a conversation; the
// page fetches the part it shows again (the server renders it), so this file holds no templates.
(function () {
  "use strict";
  var live = document.querySelector("[data-live]");
  if (!live || !window.EventSource) { return; }
  var kind = live.getAttribute("data-live");
  var pending = null;

  function swap(id, url) {
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById(id);
        var old = document.getElementById(id);
        if (fresh && old) { old.replaceWith(fresh); }
        return fresh;
      });
  }

  function withFragment(name) {
    var u = new URL(window.location.href);
    u.searchParams.set("fragment", name);
    return u.toString();
  }

  function refresh() {
    pending = null;
    if (kind === "thread") {
      var list = document.getElementById("messages");
      var atEnd = !list || window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
      swap("messages", withFragment("messages")).then(function () {
        if (atEnd) { window.scrollTo(0, document.body.scrollHeight); }
      }).catch(function () {});
      swap("facts", withFragment("facts")).catch(function () {});
    } else if (kind === "list") {
      swap("rows", withFragment("rows")).catch(function () {});
    }
  }

  function later() { if (!pending) { pending = setTimeout(refresh, 150); } }

  var es = new EventSource("/console/events");
  es.addEventListener("change", function (e) {
    var c;
    try { c = JSON.parse(e.data); } catch (err) { return; }
    if (kind === "thread" && (c.user_number !== live.getAttribute("data-user") || c.our_number !== live.getAttribute("data-our"))) {
      return;
    }
    later();
  });
  // After a reconnect, changes may have been missed: load the view again.
  es.addEventListener("open", later);
  document.documentElement.setAttribute("data-live-ready", "1");

  var glance = document.getElementById("glance");
  if (glance) {
    setInterval(function () { swap("glance", glance.getAttribute("data-refresh")).catch(function () {}); }, 10000);
  }
  if (kind === "thread") { window.scrollTo(0, document.body.scrollHeight); }
})();
