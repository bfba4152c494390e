// Typed errors thrown by dsv3. Native code throws these same classes (registered at load in
// lib/native.ts), so `instanceof` works for errors raised by the addon and by TypeScript alike.
export class DsError extends Error {
  constructor(message: string) {
    super(capMessage(message));
    this.name = new.target.name;
  }
}

/** Longest error message kept: a value quoted from a malformed file or config must not make a megabyte message. */
export const MAX_ERROR_MESSAGE = 2000;
/** `s` cut to MAX_ERROR_MESSAGE characters, saying how many were left out. */
export function capMessage(s: string): string {
  s = String(s);
  return s.length <= MAX_ERROR_MESSAGE ? s : `${s.slice(0, MAX_ERROR_MESSAGE)}... (${s.length - MAX_ERROR_MESSAGE} more characters)`;
}
/** A tensor has the wrong element type. */
export class DTypeError extends DsError {}
/** A tensor has the wrong rank or sizes, or sizes do not agree. */
export class ShapeError extends DsError {}
/** Tensors are on the wrong or on different devices, or the device is unusable. */
export class DeviceError extends DsError {}
/** A disposed tensor was used. */
export class DisposedError extends DsError {}
/** An argument has an invalid value or type (not a tensor, a bad option, out of range). */
export class ArgumentError extends DsError {}
/** The CUDA runtime reported an error; the message carries cudaGetErrorString. */
export class CudaError extends DsError {}
/** Host or device memory could not be allocated. */
export class OutOfMemoryError extends DsError {}
/** The operation is valid but not supported by this build, device or model. */
export class UnsupportedError extends DsError {}
/** An operation was cancelled through its AbortSignal. */
export class AbortError extends DsError {}
/** A file could not be read or is malformed (checkpoints, safetensors). */
export class IoError extends DsError {}

export const errorClasses = {
  DTypeError, ShapeError, DeviceError, DisposedError, ArgumentError, CudaError, OutOfMemoryError,
  UnsupportedError, IoError,
};
/** The server cannot take more work now (a full request queue): retry later (HTTP 429). */
export class OverloadedError extends DsError {}
