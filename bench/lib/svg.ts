/** A dependency-free SVG of horizontal bar panels, readable in any browser or image viewer. */

export interface Bar {
  label: string;
  value: number | null;
  /** Engine rows are drawn in the accent colour, baselines in grey. */
  engine: boolean;
  /** Text after the bar (defaults to the value). */
  note?: string;
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

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function fmt(v: number): string {
  if (v >= 100) return String(Math.round(v));
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

const W = 520;
const LABEL_W = 210;
const BAR_H = 16;
const GAP = 4;
const PAD = 12;

function panelHeight(p: Panel): number {
  return 40 + Math.max(1, p.bars.length) * (BAR_H + GAP) + 14;
}

function drawPanel(p: Panel, x: number, y: number): string {
  const out: string[] = [];
  const h = panelHeight(p);
  out.push(`<rect x="${x}" y="${y}" width="${W}" height="${h}" fill="#fff" stroke="#ddd"/>`);
  out.push(`<text x="${x + PAD}" y="${y + 20}" font-size="13" font-weight="bold">${esc(p.title)}</text>`);
  out.push(`<text x="${x + W - PAD}" y="${y + 20}" font-size="11" text-anchor="end" fill="#666">${esc(p.unit)}${p.lowerIsBetter ? ', lower is better' : ', higher is better'}</text>`);
  const vals = p.bars.map((b) => b.value ?? 0).concat(p.limit ? [p.limit.value] : []);
  const max = Math.max(1e-9, ...vals) * 1.08;
  const plotW = W - LABEL_W - PAD - 60;
  const x0 = x + LABEL_W;
  p.bars.forEach((b, i) => {
    const by = y + 32 + i * (BAR_H + GAP);
    out.push(`<text x="${x0 - 6}" y="${by + 12}" font-size="11" text-anchor="end">${esc(b.label)}</text>`);
    if (b.value === null) {
      out.push(`<text x="${x0 + 4}" y="${by + 12}" font-size="11" fill="#999">${esc(b.note ?? 'not run')}</text>`);
      return;
    }
    const w = Math.max(1, (b.value / max) * plotW);
    out.push(`<rect x="${x0}" y="${by}" width="${w.toFixed(1)}" height="${BAR_H}" fill="${b.engine ? '#1f77b4' : '#b0b0b0'}"/>`);
    out.push(`<text x="${x0 + w + 4}" y="${by + 12}" font-size="11">${esc(b.note ?? fmt(b.value))}</text>`);
  });
  if (p.limit) {
    const lx = x0 + (p.limit.value / max) * plotW;
    out.push(`<line x1="${lx.toFixed(1)}" y1="${y + 28}" x2="${lx.toFixed(1)}" y2="${y + h - 12}" stroke="#d62728" stroke-dasharray="4 3"/>`);
    out.push(`<text x="${lx.toFixed(1)}" y="${y + h - 2}" font-size="10" text-anchor="middle" fill="#d62728">${esc(p.limit.label)}</text>`);
  }
  return out.join('\n');
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
