/* A page's print button (button[data-print]) opens the browser's print dialog. */
document.querySelectorAll("button[data-print]").forEach(function (button) {
  button.addEventListener("click", function () { window.print(); });
});
