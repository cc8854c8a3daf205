// The checkpoint format's name, in the safetensors metadata: in a module of its own, with no
// Node APIs, so the page (model-file.ts) checks the same name as format.ts without bundling node:crypto.

export const FORMAT_NAME = 'nnfs-checkpoint';
