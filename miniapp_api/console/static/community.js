/* 同心管理控制台: the notice form's live preview (no inline script). The form is posted as is,
   with its CSRF field, to the console's preview address; the server answers the fragment. */
(function () {
  "use strict";
  var form = document.getElementById("notice-form");
  var target = document.getElementById("preview");
  if (!form || !target || !window.fetch) { return; }
  var timer = null;
  var seq = 0;
  function refresh() {
    var mine = ++seq;
    var data = new FormData(form);
    data.delete("images");  // new files are stored by 预览 or 发布, not on every keystroke
    fetch(form.getAttribute("data-preview"), { method: "POST", body: data, credentials: "same-origin" })
      .then(function (resp) { return resp.text(); })
      .then(function (html) { if (mine === seq) { target.innerHTML = html; } })
      .catch(function () { /* the 预览 button still works */ });
  }
  function later() { clearTimeout(timer); timer = setTimeout(refresh, 400); }
  form.addEventListener("input", later);
  form.addEventListener("change", later);
}());
