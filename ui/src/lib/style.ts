// Sets inline styles through the CSSOM. The page's CSP forbids style attributes, which Svelte's
// style: directives may write; CSSOM properties are allowed.
export function css(node: HTMLElement, props: Record<string, string>) {
  const apply = (p: Record<string, string>) => {
    for (const [k, v] of Object.entries(p)) node.style.setProperty(k, v);
  };
  apply(props);
  return { update: apply };
}
