// The page's types, declared once: the inference worker's interface (main.ts calls it
// through comlink, inference.worker.ts implements it) and the test digits the server
// sends (web/samples.ts). Types only, so the page and the server can both import them.

export interface TestSample {
  /** Position in the test set, so a reader can look the digit up. */
  index: number;
  label: number;
  /** rows * cols intensities 0-255, row-major, as in the IDX file. */
  pixels: number[];
}

export interface SamplesFile {
  rows: number;
  cols: number;
  samples: TestSample[];
}

export interface ModelInfo {
  /** Layer sizes, input to output, e.g. [784, 16, 10]. */
  sizes: number[];
  epoch?: number;
  /** 0 for imported weights, whose training history this run does not have. */
  globalStep?: number;
  optimizer?: string;
}

export interface DrawingAnswer {
  /** The 28x28 image the model saw, 0 (background) .. 1 (ink), row-major. */
  input: Float32Array;
  /** One probability per class, summing to 1. */
  probs: Float32Array;
}

export interface InferenceApi {
  /** Fetches and decodes the checkpoint; rejects with the server's one-sentence reason when it has none. */
  load(url: string): Promise<ModelInfo>;
  /** Canvas RGBA -> MNIST preprocessing -> forward pass; null when nothing is drawn yet. */
  predictDrawing(rgba: Uint8ClampedArray, width: number, height: number): Promise<DrawingAnswer | null>;
  /** Raw MNIST images (count x 784 bytes, 0-255) -> count x classes probabilities. */
  classify(pixels: Uint8Array, count: number): Promise<Float32Array>;
}
