// Shape of the drawing pad's pen, shared by the page and the browser test that simulates
// what a drawing looks like to the model.

/**
 * Pen width as a fraction of the pad's width. A digit drawn to fill most of the pad then
 * has strokes about 2 pixels wide once fitted into MNIST's 20-pixel box, as in MNIST itself.
 */
export const PEN_FRACTION = 1 / 14;

/**
 * A drawing whose ink spans less than this fraction of the pad, across and down, is not read:
 * MNIST's preprocessing would blow a tap or a speck up to fill the digit's box, and the model
 * would call the blob an 8 with confidence. A tap spans PEN_FRACTION; a digit drawn large, most of the pad.
 */
export const MIN_INK_EXTENT = 0.2;

/** Backing-store pixels per CSS pixel are capped here: more detail is lost in the 28x28 resize anyway. */
export const MAX_PIXEL_RATIO = 2;
