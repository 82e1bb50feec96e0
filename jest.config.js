// Jest runs TypeScript through SWC (fast, decorator metadata included); node_modules as it is.
const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
      target: 'es2022',
      keepClassNames: true,
    },
    module: { type: 'commonjs' },
    sourceMaps: 'inline',
  },
];

const base = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': swc },
  moduleFileExtensions: ['ts', 'js', 'json'],
};

const e2e = {
  ...base,
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
};

/** @type {import('jest').Config} */
module.exports = {
  // A global option (ignored inside a project): e2e tests talk to real servers on a busy machine.
  testTimeout: 30000,
  projects: [
    { ...base, displayName: 'unit', testMatch: ['<rootDir>/src/**/*.spec.ts'] },
    { ...e2e, displayName: 'e2e', testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'] },
    {
      // The suites that write and read tasks, again through PgBouncer in transaction mode.
      ...e2e,
      displayName: 'e2e-pooler',
      testMatch: [
        '<rootDir>/test/{tasks,sync,concurrency,recurrence,transactions,isolation,planning}.e2e-spec.ts',
      ],
      setupFiles: ['<rootDir>/test/support/through-pooler.ts'],
    },
  ],
};
