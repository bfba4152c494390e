// dsv3: DeepSeek-V3 inference for Node.js. Public entry point.
export { Tensor, synchronize, DTYPES, ITEMSIZE } from './tensor';
export type { DType, Device, ArrayFor, FloatDType, CreateOptions } from './tensor';
export * from './errors';
export { backends } from './backends';
export * as ops from './ops';
export { Checkpoint, SafetensorsFile } from './weights/safetensors';
export type { TensorInfo } from './weights/safetensors';
export { loadModel, planModel, readConfig } from './model/load';
export type { LoadOptions, Precision } from './model/load';
export { Model, Transformer } from './model/model';
export type { ForwardOptions, ForwardResult, ExpertLoad, BatchItem, RaggedItem, PickOptions, StepOptions, StepOutput } from './model/model';
export { PagedLatentCache, SequenceCache } from './model/paged_cache';
export { estimateWeightBytes, residentBytes } from './model/memory';
export { planLoad } from './model/plan';
export type { WeightBytes, LoadPlan, PlannedTensor } from './model/plan';
export { parseConfig } from './config';
export type { ModelConfig } from './config';
export { loadTokenizer, TextTokenizer } from './tokenizer';
export type { StreamDecoder } from './tokenizer';
export type { ChatMessage } from './tokenizer';

export { generate } from './generate';
export type { GenerateOptions, Generation } from './generate';
export * as profile from './profile';
export { Graph, isCapturing } from './graph';
export { collectingStatistics, withoutStatistics } from './model/stats';
export { DecodeGraph } from './model/decode_graph';
