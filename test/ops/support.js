// What the operator-tool tests share beyond test/helpers: reading the dashboard's terminal output.
/** The start of an ANSI control sequence. */
export const CSI = '\u001b[';
const ANSI_SEQUENCE = new RegExp(`${String.fromCharCode(27)}\\[[0-9;?]*[A-Za-z]`, 'g');
export const stripAnsi = (text) => text.replace(ANSI_SEQUENCE, '');
