// ESM entry: the same module as `require('fivelens')`, so both share one state.
import fivelens from './index.js'

export const {
  instrument,
  shutdown,
  flush,
  withSpan,
  startSpan,
  withContext,
  withStage,
  withPrompt,
  withLlmCall,
  startLlmCall,
  countTokens,
  tokenEncoding,
  redact,
  keepTrace,
  instrumentModules,
  currentSpan,
  inject,
  extract,
  bindContext,
  status,
  spanProcessor,
  Span,
  RemoteContext,
  LlmCall,
  testing,
} = fivelens
export default fivelens
