// The dashboard's own script, on top of htmx: the tab title's count of what waits
// on the operator, and browser notifications (opt-in) when an approval or a question
// arrives. Every page works without it; nothing here builds HTML.
(function () {
  "use strict";

  const COUNT = /^\(\d+\) /;
  const NOTICES = {
    approvals: "An approval changed: it may wait for you.",
    questions: "A question changed: it may wait for you.",
  };

  // The number the problems area shows (data-count on #problem-count), if any.
  function problemCount() {
    const element = document.getElementById("problem-count");
    if (!element) return null;
    const count = parseInt(element.dataset.count || "", 10);
    return Number.isNaN(count) ? null : count;
  }

  function updateTitle() {
    const count = problemCount();
    if (count === null) return;
    const title = document.title.replace(COUNT, "");
    document.title = count > 0 ? "(" + count + ") " + title : title;
  }

  function canNotify() {
    return "Notification" in window;
  }

  function notify(topic) {
    if (!canNotify() || Notification.permission !== "granted") return;
    // One notice per kind: a burst replaces its predecessor instead of piling up.
    new Notification("hyperhive", { body: NOTICES[topic], tag: "hyperhive-" + topic });
  }

  function offerNotifications() {
    const button = document.getElementById("notify");
    if (!button || !canNotify()) return;
    button.hidden = Notification.permission !== "default";
    button.addEventListener("click", function () {
      Notification.requestPermission().then(function (permission) {
        button.hidden = permission !== "default";
      });
    });
  }

  // htmx's SSE extension owns the tab's one stream; listen on it, never open another.
  function followStream(event) {
    const source = event.detail && event.detail.source;
    if (!source || source.hyperhiveFollowed) return;
    source.hyperhiveFollowed = true;
    Object.keys(NOTICES).forEach(function (topic) {
      source.addEventListener(topic, function () { notify(topic); });
    });
  }

  // On the document from the start: htmx's events bubble up to it, whenever they come.
  document.addEventListener("htmx:afterSettle", updateTitle);
  document.addEventListener("htmx:sseOpen", followStream);
  document.addEventListener("DOMContentLoaded", function () {
    updateTitle();
    offerNotifications();
  });
})();
