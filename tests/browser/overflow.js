/* Elements wider than the screen, unless a container between them and the page scrolls or
   clips them sideways (a table in .table-responsive, the tab bar of pills). */
(() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  function contained(element) {
    for (let parent = element.parentElement; parent && parent !== document.body; parent = parent.parentElement) {
      const style = getComputedStyle(parent);
      if (["auto", "scroll", "hidden", "clip"].includes(style.overflowX)) return true;
    }
    return false;
  }
  for (const element of document.body.querySelectorAll("*")) {
    const box = element.getBoundingClientRect();
    if (!box.width || !box.height) continue;
    if ((box.right > width + 1 || box.left < -1) && !contained(element)) {
      out.push(element.tagName.toLowerCase() + (element.id ? "#" + element.id : "") +
               (element.className && typeof element.className === "string" ? "." + element.className.trim().split(/\s+/).join(".") : "") +
               " " + Math.round(box.left) + "–" + Math.round(box.right));
    }
  }
  return {page: document.documentElement.scrollWidth, screen: width, wider: out.slice(0, 8)};
})
