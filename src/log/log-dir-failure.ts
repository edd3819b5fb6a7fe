/**
 * Kafka's LogDirFailureChannel: the first I/O error in a log directory takes the whole
 * directory offline until the broker restarts. Its partitions then answer
 * KAFKA_STORAGE_ERROR; partitions in other log directories keep being served.
 */

/** Kafka's KafkaStorageException: the disk failed under a log (answered as KAFKA_STORAGE_ERROR, 56). */
export class KafkaStorageError extends Error {
  override readonly name = "KafkaStorageError"
}

/** A file-system failure (ENOSPC, EIO, EACCES...): what Kafka sees as an IOException. */
export const isIoError = (e: unknown): e is NodeJS.ErrnoException =>
  e instanceof Error && typeof (e as NodeJS.ErrnoException).code === "string"

export type LogDirFailureListener = (dir: string, message: string, cause: unknown) => void

export class LogDirFailureChannel {
  private readonly offline = new Map<string, string>()
  private readonly listeners = new Set<LogDirFailureListener>()

  hasOfflineLogDir(dir: string): boolean {
    return this.offline.has(dir)
  }

  /** Why `dir` went offline, or undefined while it is online. */
  reasonOf(dir: string): string | undefined {
    return this.offline.get(dir)
  }

  offlineLogDirs(): ReadonlyArray<string> {
    return [...this.offline.keys()]
  }

  /** Takes `dir` offline (once); listeners hear of it synchronously, before the failing call returns. */
  maybeAddOfflineLogDir(dir: string, message: string, cause: unknown): void {
    if (this.offline.has(dir)) return
    this.offline.set(dir, message)
    for (const listener of this.listeners) listener(dir, message, cause)
  }

  onOffline(listener: LogDirFailureListener): () => void {
    this.listeners.add(listener)
    return () => {
      this.listeners.delete(listener)
    }
  }

  /** The error an operation on a log in an offline dir fails with (Kafka's wording). */
  static offlineError(dir: string): KafkaStorageError {
    return new KafkaStorageError(`The log dir ${dir} is already offline due to a previous IO exception.`)
  }
}
