/**
 * A dependency-free SVG of horizontal bar panels, readable in any browser or image viewer. Text is laid out
 * from estimated Helvetica widths (an SVG file cannot measure its own text), with margins to spare: labels
 * get the column they need (long ones are shortened with an ellipsis, the full text in a tooltip), a
 * panel's unit moves under its title when both do not fit on one line, and value labels carry a white halo
 * so a target line never hides them.
 */

export interface Bar {
  label: string;
  value: number | null;
  /** Engine rows are drawn in the accent colour, baselines in grey. */
  engine: boolean;
  /** Text after the bar (defaults to the value). */
  note?: string;
  /** Run-to-run spread, drawn as a min-max whisker over the bar (the value is usually the median). */
  runs?: number[];
}

export interface Panel {
  title: string;
  unit: string;
  bars: Bar[];
  /** A vertical line (a target), with its label. */
  limit?: { value: number; label: string };
  /** Smaller is better (shown in the title). */
  lowerIsBetter?: boolean;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function fmt(v: number): string {
  if (v >= 100) return String(Math.round(v));
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

/** Estimated width of `s` in Helvetica/Arial at `size` px (per-character classes, rounded up). */
export function textWidth(s: string, size: number): number {
  let em = 0;
  for (const ch of s) {
    if (/[il.,:;'|!]/.test(ch)) em += 0.28;
    else if (/[fjrt()[\] -]/.test(ch)) em += 0.36;
    else if (/[mwMW@]/.test(ch)) em += 0.86;
    else if (/[A-Z×]/.test(ch)) em += 0.68;
    else if (/[0-9]/.test(ch)) em += 0.56;
    else em += 0.54;
  }
  return Math.ceil(em * size * 1.05);
}

const W = 560;
const BAR_H = 16;
const GAP = 4;
const PAD = 12;
const FONT = 11;
/** Widest label column; longer labels are shortened. */
const MAX_LABEL_W = 300;
/** Room right of the longest bar for its value. */
const VALUE_W = 48;

/** `s` shortened with an ellipsis to fit `w` px. */
function fit(s: string, w: number): string {
  if (textWidth(s, FONT) <= w) return s;
  let t = s;
  while (t.length > 1 && textWidth(`${t}…`, FONT) > w) t = t.slice(0, -1);
  return `${t.trimEnd()}…`;
}

interface Layout {
  head: number;
  labelW: number;
  unitBelow: boolean;
  unitText: string;
}

function layout(p: Panel): Layout {
  const spread = p.bars.some((b) => (b.runs?.length ?? 0) > 1);
  const unitText = `${p.unit}${p.lowerIsBetter ? ', lower is better' : ', higher is better'}${spread ? '; whiskers: min-max of the runs' : ''}`;
  const unitBelow = textWidth(p.title, 13) + 16 + textWidth(unitText, FONT) > W - 2 * PAD;
  const labelW = Math.min(MAX_LABEL_W, Math.max(60, ...p.bars.map((b) => textWidth(b.label, FONT))) + 2 * PAD);
  return { head: unitBelow ? 46 : 32, labelW, unitBelow, unitText };
}

function panelHeight(p: Panel): number {
  return layout(p).head + Math.max(1, p.bars.length) * (BAR_H + GAP) + (p.limit ? 18 : 8);
}

function drawPanel(p: Panel, x: number, y: number): string {
  const out: string[] = [];
  /** Value labels, drawn last: over the target line, which is drawn over the bars. */
  const values: string[] = [];
  const h = panelHeight(p);
  const L = layout(p);
  out.push(`<rect x="${x}" y="${y}" width="${W}" height="${h}" fill="#fff" stroke="#ddd"/>`);
  out.push(`<text x="${x + PAD}" y="${y + 20}" font-size="13" font-weight="bold">${esc(p.title)}</text>`);
  if (L.unitBelow) out.push(`<text x="${x + PAD}" y="${y + 36}" font-size="${FONT}" fill="#666">${esc(L.unitText)}</text>`);
  else out.push(`<text x="${x + W - PAD}" y="${y + 20}" font-size="${FONT}" text-anchor="end" fill="#666">${esc(L.unitText)}</text>`);
  const vals = p.bars.flatMap((b) => [b.value ?? 0, ...(b.runs ?? [])]).concat(p.limit ? [p.limit.value] : []);
  const max = Math.max(1e-9, ...vals) * 1.04;
  const x0 = x + L.labelW;
  const plotW = W - L.labelW - PAD - VALUE_W;
  const at = (v: number): number => x0 + (v / max) * plotW;
  const top = y + L.head;
  p.bars.forEach((b, i) => {
    const by = top + i * (BAR_H + GAP);
    const shown = fit(b.label, L.labelW - PAD - 6);
    const title = shown === b.label ? '' : `<title>${esc(b.label)}</title>`;
    out.push(`<text x="${x0 - 6}" y="${by + 12}" font-size="${FONT}" text-anchor="end">${title}${esc(shown)}</text>`);
    if (b.value === null) {
      out.push(`<text x="${x0 + 4}" y="${by + 12}" font-size="${FONT}" fill="#999">${esc(b.note ?? 'not run')}</text>`);
      return;
    }
    const end = Math.max(x0 + 1, at(b.value));
    out.push(`<rect x="${x0}" y="${by}" width="${(end - x0).toFixed(1)}" height="${BAR_H}" fill="${b.engine ? '#1f77b4' : '#b0b0b0'}"/>`);
    let textX = end;
    if (b.runs && b.runs.length > 1) {
      const lo = at(Math.min(...b.runs));
      const hi = at(Math.max(...b.runs));
      const cy = by + BAR_H / 2;
      out.push(
        `<path d="M${lo.toFixed(1)} ${cy}H${hi.toFixed(1)}M${lo.toFixed(1)} ${cy - 4}v8M${hi.toFixed(1)} ${cy - 4}v8" stroke="#222" stroke-width="1.2" fill="none"/>`,
      );
      textX = Math.max(textX, hi);
    }
    values.push(`<text x="${(textX + 4).toFixed(1)}" y="${by + 12}" font-size="${FONT}" stroke="#fff" stroke-width="3" paint-order="stroke">${esc(b.note ?? fmt(b.value))}</text>`);
  });
  if (p.limit) {
    const lx = at(p.limit.value).toFixed(1);
    const bottom = top + p.bars.length * (BAR_H + GAP);
    out.push(`<line x1="${lx}" y1="${top - 4}" x2="${lx}" y2="${bottom}" stroke="#d62728" stroke-width="1.5" stroke-dasharray="4 3"/>`);
    out.push(`<text x="${lx}" y="${bottom + 12}" font-size="10" text-anchor="middle" fill="#d62728">${esc(p.limit.label)}</text>`);
  }
  return out.concat(values).join('\n');
}

/** Lays panels out in two columns under a title. */
export function renderSvg(title: string, subtitle: string, panels: Panel[]): string {
  const cols = 2;
  const colY = [60, 60];
  const parts: string[] = [];
  for (const p of panels) {
    const c = colY[0]! <= colY[1]! ? 0 : 1;
    parts.push(drawPanel(p, PAD + c * (W + PAD), colY[c]!));
    colY[c]! += panelHeight(p) + PAD;
  }
  const width = PAD + cols * (W + PAD);
  const height = Math.max(...colY) + 4;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="#f7f7f7"/>`,
    `<text x="${PAD}" y="26" font-size="17" font-weight="bold">${esc(title)}</text>`,
    `<text x="${PAD}" y="46" font-size="11" fill="#555">${esc(subtitle)}</text>`,
    ...parts,
    `</svg>`,
    '',
  ].join('\n');
}
