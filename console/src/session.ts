import { reactive } from 'vue';
import { call, useCredentials, type Credentials } from './api.js';

// Who is signed in. Sign-in is a bearer token of a client registered at this
// node (`tongxing access grant NAME --token --scopes ...`) and the operator's
// name for the audit trail; the node answers with the client's scopes
// (ConsoleService.GetConsoleSession), and the console shows only what they
// allow. The token is kept in this tab's sessionStorage (gone when the tab
// closes); an approver key, when loaded, only in memory.

export interface ConsoleSession {
  client: string;
  operator: string;
  scopes: string[];
  approver: boolean;
  city: string;
  nodeId: string;
}

interface SessionAnswer {
  client: string;
  scopes: string[];
  operator: string;
  approver: boolean;
  city: string;
  nodeId: string;
}

const storageKey = 'tongxing.console.credentials';

export const session = reactive<{ current: ConsoleSession | undefined }>({ current: undefined });

export const can = (scope: string): boolean => session.current?.scopes.includes(scope) ?? false;

export async function signIn(credentials: Credentials): Promise<void> {
  useCredentials(credentials);
  try {
    const answer = await call<SessionAnswer>('ConsoleService', 'GetConsoleSession');
    session.current = { ...answer, nodeId: answer.nodeId };
    sessionStorage.setItem(storageKey, JSON.stringify(credentials));
  } catch (error) {
    useCredentials(undefined);
    throw error;
  }
}

export function signOut(): void {
  sessionStorage.removeItem(storageKey);
  useCredentials(undefined);
  session.current = undefined;
}

/** Signs in again with this tab's stored credentials (a reload), quietly. */
export async function resume(): Promise<void> {
  const stored = sessionStorage.getItem(storageKey);
  if (!stored) return;
  try {
    await signIn(JSON.parse(stored) as Credentials);
  } catch {
    signOut();
  }
}
