import { join } from 'node:path';
import { projectRoot } from '../store/home.js';

/**
 * The Claude Code hook events scripts/hooks/claude-code.sh turns into check-ins, each wired with no
 * matcher (every tool, every notification): activity, the session id, a person needed, how a turn ended.
 */
export const CLAUDE_HOOK_EVENTS = [
  'SessionStart',
  'UserPromptSubmit',
  'PreToolUse',
  'PostToolUse',
  'PostToolUseFailure',
  'SubagentStop',
  'Notification',
  'PermissionRequest',
  'Stop',
  'StopFailure',
  'SessionEnd',
] as const;

export const claudeHookScript = (): string => join(projectRoot(), 'scripts', 'hooks', 'claude-code.sh');

/** A path as one shell word: Claude Code runs a hook's command through a shell. */
export function shellWord(path: string): string {
  return /^[A-Za-z0-9_./+-]+$/.test(path) ? path : `'${path.replace(/'/g, `'\\''`)}'`;
}

/**
 * The settings JSON (for `claude --settings FILE` or .claude/settings.json) that runs the hook on every event
 * it records, each command naming its event (the hook's fast path for tool calls needs no jq).
 */
export function claudeHookSettings(script: string = claudeHookScript()): { hooks: Record<string, { matcher?: string; hooks: { type: 'command'; command: string; timeout: number }[] }[]> } {
  const command = shellWord(script);
  const hooks = Object.fromEntries(
    CLAUDE_HOOK_EVENTS.map((event) => [event, [{ ...(event === 'PreToolUse' || event === 'PostToolUse' || event === 'PostToolUseFailure' || event === 'PermissionRequest' ? { matcher: '*' } : {}), hooks: [{ type: 'command' as const, command: `${command} ${event}`, timeout: 10 }] }]]),
  );
  return { hooks };
}
