// Text renderings for the terminal: a digit as ASCII art and a model's class probabilities.

/** Ten characters from blank to full ink. */
export const RAMP = ' .:-=+*#%@';

/**
 * One ramp character for a 0-255 intensity. The 256 values are cut into ten equal bins
 * of 25.6 (floor(v * 10 / 256)), so 0-25 -> ' ' and 231-255 -> '@'; values outside
 * 0-255 (or NaN) are clamped rather than trusted.
 */
function rampChar(value: number): string {
  const v = Number.isFinite(value) ? Math.min(255, Math.max(0, value)) : 0;
  return RAMP[Math.min(RAMP.length - 1, Math.floor((v * RAMP.length) / 256))];
}

/** Draws a row-major image of 0-255 intensities as `rows` lines of `cols` characters. */
export function asciiDigit(pixels: ArrayLike<number>, rows = 28, cols = 28): string {
  if (pixels.length < rows * cols) {
    throw new Error(`asciiDigit needs ${rows * cols} pixels for ${rows}x${cols}, got ${pixels.length}`);
  }
  const lines: string[] = [];
  for (let r = 0; r < rows; r++) {
    let line = '';
    for (let c = 0; c < cols; c++) line += rampChar(pixels[r * cols + c]);
    lines.push(line);
  }
  return lines.join('\n');
}

/** One line per class, `3: 0.91234`, five decimals as the original project printed them. */
export function formatProbabilities(probs: ArrayLike<number>): string {
  const lines: string[] = [];
  for (let k = 0; k < probs.length; k++) lines.push(`${k}: ${probs[k].toFixed(5)}`);
  return lines.join('\n');
}
