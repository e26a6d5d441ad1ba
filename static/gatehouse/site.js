// Progressive enhancement only: every page works without JavaScript.
document.addEventListener("change", (event) => {
  const select = event.target.closest("select[data-navigate]");
  if (select) window.location.assign(select.value);
});
