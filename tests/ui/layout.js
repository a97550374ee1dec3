// The layout as a user sees it, checked in the page: (root) => a list of problems, empty when none.
// - every shown element inside its parent's box, unless that parent scrolls or clips (a box that
//   overflows spills over its neighbours);
// - no two pieces of text overlapping: each line of HTML text, and each SVG label, is a box, and no
//   two boxes meet (a chart's label over another, or "200200200" run together).
() => {
  const root = document.body;
  const SLACK = 0.5;  // sub-pixel rounding
  const problems = [];
  const shown = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
  const name = (el) => {
    const id = el.id ? `#${el.id}` : "";
    const cls = typeof el.className === "string" && el.className ? `.${el.className.trim().split(/\s+/).join(".")}` : "";
    return `${el.tagName.toLowerCase()}${id}${cls}`;
  };
  const path = (el) => {
    const parts = [];
    for (let node = el; node && node !== root.parentElement; node = node.parentElement) parts.unshift(name(node));
    return parts.slice(-4).join(" > ");
  };
  // An SVG clips its labels by default; a label cut at its edge is what is being looked for, so an SVG counts as not clipping.
  const clips = (el) => {
    const style = getComputedStyle(el);
    return !(el instanceof SVGElement) && (style.overflowX !== "visible" || style.overflowY !== "visible");
  };
  const clipped = (el) => {
    for (let node = el.parentElement; node && node !== root.parentElement; node = node.parentElement) {
      if (clips(node)) return true;
    }
    return false;
  };

  for (const el of root.querySelectorAll("*")) {
    if (!shown(el) || !el.parentElement || clipped(el)) continue;
    if (el instanceof SVGElement && !(el instanceof SVGSVGElement) && el.tagName !== "text") continue;
    if (["option", "title", "tspan"].includes(el.tagName.toLowerCase())) continue;
    const box = el.getBoundingClientRect();
    let parent = el.parentElement;
    while (getComputedStyle(parent).display === "contents") parent = parent.parentElement;
    const outer = parent.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    const out = box.left < outer.left - SLACK || box.right > outer.right + SLACK
      || box.top < outer.top - SLACK || box.bottom > outer.bottom + SLACK;
    if (out) {
      problems.push(`${path(el)} [${Math.round(box.left)}..${Math.round(box.right)} x ${Math.round(box.top)}..${Math.round(box.bottom)}]`
        + ` leaves ${name(parent)} [${Math.round(outer.left)}..${Math.round(outer.right)} x ${Math.round(outer.top)}..${Math.round(outer.bottom)}]`);
    }
  }

  // The part of a box its scrolling or clipping ancestors let show, or null.
  const seen = (box, owner) => {
    let { left, right, top, bottom } = box;
    for (let node = owner; node && node !== root.parentElement; node = node.parentElement) {
      if (!clips(node)) continue;
      const frame = node.getBoundingClientRect();
      left = Math.max(left, frame.left); right = Math.min(right, frame.right);
      top = Math.max(top, frame.top); bottom = Math.min(bottom, frame.bottom);
    }
    return right - left > SLACK && bottom - top > SLACK ? { left, right, top, bottom } : null;
  };
  const texts = [];
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const owner = node.parentElement;
    if (!node.textContent.trim() || !shown(owner) || owner.closest("svg, select, title, option")) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    for (const line of range.getClientRects()) {
      const box = seen(line, owner);
      if (box) texts.push({ box, said: node.textContent.trim().slice(0, 40), where: path(owner) });
    }
  }
  for (const label of root.querySelectorAll("svg text")) {
    if (shown(label)) texts.push({ box: label.getBoundingClientRect(), said: label.textContent, where: path(label) });
  }
  const visible = texts;
  visible.sort((a, b) => a.box.top - b.box.top);
  for (let i = 0; i < visible.length; i += 1) {
    const a = visible[i];
    for (let j = i + 1; j < visible.length && visible[j].box.top < a.box.bottom - SLACK; j += 1) {
      const b = visible[j];
      const meet = a.box.left < b.box.right - SLACK && b.box.left < a.box.right - SLACK
        && a.box.top < b.box.bottom - SLACK && b.box.top < a.box.bottom - SLACK;
      if (meet) problems.push(`text "${a.said}" (${a.where}) overlaps "${b.said}" (${b.where})`);
    }
  }
  return problems;
}
