/**
 * Test and benchmark helpers for real firewalls: network namespaces joined by a veth pair, a
 * TCP listener inside one, connection probes from the other, and a command runner that runs
 * action commands inside a namespace. All traffic stays between the namespaces made here.
 *
 * @module
 */

import { readAction } from "../src/config/action_reader.ts";
import type { ActionSpec } from "../src/config/types.ts";
import {
  type CommandResult,
  type CommandRunner,
  type CommandRunOptions,
  ShellCommandRunner,
} from "../src/actions/command_runner.ts";
import type { BanTicket } from "../src/ipc/messages.ts";

/** The shipped configuration directory. */
export const CONFIG_DIR = new URL("../config", import.meta.url).pathname;

/** Reads a shipped action for jail `jail`. */
export function loadAction(reference: string, jail = "t"): ActionSpec {
  return readAction(CONFIG_DIR, reference, {}, { jailName: jail });
}

/** Output of a command run to its end. */
export interface RunOutput {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `sh -c script` and returns its exit code and output. */
export async function sh(script: string): Promise<RunOutput> {
  const r = await new Deno.Command("sh", { args: ["-c", script], stdin: "null" }).output();
  const dec = new TextDecoder();
  return { code: r.code, stdout: dec.decode(r.stdout), stderr: dec.decode(r.stderr) };
}

/** Runs `sh -c script` and throws with its stderr when it fails. */
export async function must(script: string): Promise<string> {
  const r = await sh(script);
  if (r.code !== 0) throw new Error(`Command failed (${r.code}): ${script}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** Quotes `s` for a POSIX shell. */
export function shq(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** Why firewall tests cannot run here, or null when they can. */
export async function firewallSkipReason(
  tools = ["ip", "iptables", "ip6tables", "iptables-restore", "nft", "ipset", "python3", "bash"],
): Promise<string | null> {
  if (Deno.build.os !== "linux") return "not Linux";
  if (Deno.uid() !== 0) return "not running as root";
  const missing: string[] = [];
  for (const t of tools) {
    if ((await sh(`command -v ${t}`)).code !== 0) missing.push(t);
  }
  if (missing.length) return `missing tools: ${missing.join(", ")}`;
  const probe = `f2bprobe${Deno.pid}`;
  const r = await sh(`ip netns add ${probe} && ip netns del ${probe}`);
  if (r.code !== 0) return `cannot make a network namespace: ${r.stderr.trim()}`;
  return null;
}

let counter = 0;

/** A server namespace and an attacker namespace joined by a veth pair. */
export class NetnsPair {
  /** Namespace where the firewall runs and the port is served. */
  readonly srv: string;
  /** Namespace the probes connect from. */
  readonly att: string;
  /** Server's IPv4 address. */
  readonly srv4: string;
  /** Attacker's IPv4 address. */
  readonly att4: string;
  /** Server's IPv6 address. */
  readonly srv6: string;
  /** Attacker's IPv6 address. */
  readonly att6: string;
  #listeners: Deno.ChildProcess[] = [];

  private constructor(n: number) {
    const id = `${Deno.pid % 10000}x${n}`;
    this.srv = `f2bt-srv-${id}`;
    this.att = `f2bt-att-${id}`;
    const sub = (Deno.pid + n) % 250 + 1;
    this.srv4 = `10.250.${sub}.1`;
    this.att4 = `10.250.${sub}.2`;
    this.srv6 = `fd00:f2b:${sub.toString(16)}::1`;
    this.att6 = `fd00:f2b:${sub.toString(16)}::2`;
  }

  /** Makes both namespaces, the veth link and the addresses. */
  static async create(): Promise<NetnsPair> {
    const p = new NetnsPair(++counter);
    try {
      await must(`ip netns add ${p.srv} && ip netns add ${p.att}`);
      await must([
        `ip -n ${p.att} link add veth0 type veth peer name veth0 netns ${p.srv}`,
        `ip -n ${p.srv} link set lo up`,
        `ip -n ${p.att} link set lo up`,
        `ip -n ${p.srv} addr add ${p.srv4}/24 dev veth0`,
        `ip -n ${p.att} addr add ${p.att4}/24 dev veth0`,
        `ip -n ${p.srv} -6 addr add ${p.srv6}/64 dev veth0 nodad`,
        `ip -n ${p.att} -6 addr add ${p.att6}/64 dev veth0 nodad`,
        `ip -n ${p.srv} link set veth0 up`,
        `ip -n ${p.att} link set veth0 up`,
      ].join(" && "));
    } catch (e) {
      await p.destroy();
      throw e;
    }
    return p;
  }

  /** Serves `ports` (TCP, IPv4 and IPv6) in the server namespace: each connection gets "ok". */
  async serve(ports: number[]): Promise<void> {
    for (const port of ports) {
      const code = [
        "import socket",
        "s = socket.socket(socket.AF_INET6)",
        "s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)",
        "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)",
        `s.bind(("::", ${port}))`,
        "s.listen(64)",
        "while True:",
        "    c, _ = s.accept()",
        "    c.sendall(b'ok')",
        "    c.close()",
      ].join("\n");
      this.#listeners.push(
        new Deno.Command("ip", {
          args: ["netns", "exec", this.srv, "python3", "-c", code],
          stdin: "null",
          stdout: "null",
          stderr: "null",
        }).spawn(),
      );
    }
    for (const port of ports) {
      for (let i = 0;; i++) {
        const r = await sh(
          `ip netns exec ${this.srv} bash -c 'exec 3<>/dev/tcp/127.0.0.1/${port}' 2>/dev/null`,
        );
        if (r.code === 0) break;
        if (i > 100) throw new Error(`Listener on port ${port} did not start`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  /** True when the attacker namespace can connect to `addr`:`port` and read "ok". */
  async canConnect(addr: string, port: number): Promise<boolean> {
    const r = await sh(
      `ip netns exec ${this.att} timeout 3 bash -c 'exec 3<>/dev/tcp/${addr}/${port} && head -c 2 <&3'`,
    );
    return r.code === 0 && r.stdout === "ok";
  }

  /** Runs `script` in the server namespace. */
  exec(script: string): Promise<RunOutput> {
    return sh(`ip netns exec ${this.srv} sh -c ${shq(script)}`);
  }

  /** A command runner that runs every command inside the server namespace. */
  runner(): NetnsRunner {
    return new NetnsRunner(this.srv);
  }

  /** Stops the listeners and deletes both namespaces (their links and firewall state go too). */
  async destroy(): Promise<void> {
    for (const l of this.#listeners) {
      try {
        l.kill("SIGKILL");
      } catch {
        // Already gone.
      }
      await l.status;
    }
    this.#listeners = [];
    await sh(`ip netns del ${this.srv} 2>/dev/null; ip netns del ${this.att} 2>/dev/null`);
  }
}

/** Runs commands with {@link ShellCommandRunner} inside a namespace, recording them. */
export class NetnsRunner implements CommandRunner {
  readonly #ns: string;
  readonly #inner = new ShellCommandRunner();
  /** Commands run, in order (as the action wrote them). */
  readonly commands: string[] = [];

  /** Builds a runner for namespace `ns`. */
  constructor(ns: string) {
    this.#ns = ns;
  }

  /** Runs `command` with `ip netns exec NS sh -c`. */
  run(command: string, options: CommandRunOptions): Promise<CommandResult> {
    this.commands.push(command);
    return this.#inner.run(`exec ip netns exec ${this.#ns} sh -c ${shq(command)}`, options);
  }
}

/** A ban ticket for `fid` in jail `jail`. */
export function ticket(jail: string, fid: string, time = 1_700_000_000): BanTicket {
  return {
    jail,
    fid,
    family: fid.includes(":") ? "inet6" : "inet4",
    time,
    banTime: 600,
    banCount: 0,
    failures: 5,
    matches: [`failure from ${fid}`],
    data: {},
  };
}
