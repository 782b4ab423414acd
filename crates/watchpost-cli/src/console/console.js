// watchpost console: the only script. "Live" reloads the page every 3 s while it is checked;
// a link to a span opens that span's row.
(function () {
  var live = document.getElementById("live");
  if (live && live.checked) {
    setTimeout(function () { if (live.checked) location.reload(); }, 3000);
  }
  if (live) {
    live.addEventListener("change", function () { live.form.submit(); });
  }
  if (location.hash.indexOf("#span-") === 0) {
    var row = document.getElementById(location.hash.slice(1));
    if (row && row.tagName === "DETAILS") { row.open = true; row.scrollIntoView({ block: "center" }); }
  }
})();
