// Progressive enhancement only: every page works without JavaScript.
document.addEventListener("change", (event) => {
  const select = event.target.closest("select[data-navigate]");
  if (select) window.location.assign(select.value);
});

// Folder uploads: browsers drop the folder part of each file name from the form data, so send
// every file's relative path alongside it.
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-upload-form]");
  if (!form) return;
  form.querySelectorAll("input[name=paths]").forEach((node) => node.remove());
  for (const input of form.querySelectorAll("input[type=file][name=files]")) {
    for (const file of input.files) {
      const hidden = document.createElement("input");
      hidden.type = "hidden";
      hidden.name = "paths";
      hidden.value = file.webkitRelativePath || file.name;
      form.appendChild(hidden);
    }
  }
});
