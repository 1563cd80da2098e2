/** Public surface of the alerts module, for the composition root and the admin API. */
export { AlertEngine, NO_EVENTS, type AlertEngineOptions } from './engine.js';
export { parseRules, formatRuleError, formatPath } from './rules-parse.js';
export {
  loadRulesFile,
  rulesETag,
  rulesFormatOf,
  validateRulesText,
  writeRulesFileAtomic,
  type BodyResult,
  type RulesFormat,
  type LoadedRules,
} from './rules-file.js';
export { RulesFileWatcher, type RulesChange, type RulesLoadStatus, type RulesWatcherOptions } from './watcher.js';
export type { AlertSnapshot, RestoreResult } from './snapshot.js';
export type { AlertEvent, AlertRule, FiringAlert, NoDataRule, RuleError, RuleMatch, RulesResult, Severity, ThresholdRule } from './types.js';
