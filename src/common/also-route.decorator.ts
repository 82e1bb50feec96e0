/**
 * Registers the decorated handler a second time, as the method `name` under `route` (another
 * HTTP verb), so two verbs share one handler body: Nest keeps one verb per method. Put it above
 * every other decorator of the handler: what they recorded so far (parameter decorators, Swagger,
 * pipes) is copied over as it is, through reflect-metadata's public API only.
 */
export function AlsoRoute(name: string, route: MethodDecorator): MethodDecorator {
  return (target, key, descriptor: PropertyDescriptor) => {
    const handler = descriptor.value as (...args: unknown[]) => unknown;
    const twin = {
      [name](this: unknown, ...args: unknown[]) {
        return handler.apply(this, args);
      },
    }[name];
    const copy = (from: object, to: object, fromKey?: string | symbol, toKey?: string) => {
      const keys =
        fromKey === undefined
          ? Reflect.getOwnMetadataKeys(from)
          : Reflect.getOwnMetadataKeys(from, fromKey);
      for (const metadataKey of keys) {
        const value: unknown =
          fromKey === undefined
            ? Reflect.getOwnMetadata(metadataKey, from)
            : Reflect.getOwnMetadata(metadataKey, from, fromKey);
        if (toKey === undefined) Reflect.defineMetadata(metadataKey, value, to);
        else Reflect.defineMetadata(metadataKey, value, to, toKey);
      }
    };
    copy(handler, twin);
    copy(target, target, key, name);
    copy(target.constructor, target.constructor, key, name);
    const twinDescriptor = { value: twin, writable: true, configurable: true, enumerable: false };
    Object.defineProperty(target, name, twinDescriptor);
    route(target, name, twinDescriptor);
  };
}
