// Shape of the drawing pad's pen, shared by the page and the browser test that simulates
// what a drawing looks like to the model.

/**
 * Pen width as a fraction of the pad's width. A digit drawn to fill most of the pad then
 * has strokes about 2 pixels wide once fitted into MNIST's 20-pixel box, as in MNIST itself.
 */
export const PEN_FRACTION = 1 / 14;

/** Backing-store pixels per CSS pixel are capped here: more detail is lost in the 28x28 resize anyway. */
export const MAX_PIXEL_RATIO = 2;
