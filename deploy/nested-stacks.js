'use strict';
// Nested stacks per route family: a CloudFormation stack holds at most 500 resources, and
// each HTTP function brings ten (function, version, alias, canary deployment group, role,
// log group, errors alarm, invoke permission, integration, route). After the framework and
// its plugins have compiled the template, this moves each function listed under
// `custom.nestedStacks` (written by scripts/serverless_yml.py), with its companions, into a
// nested stack of its family. Offline and deterministic: no AWS call while packaging.
//
// What crosses a stack boundary is rewritten:
//   * a moved resource's Ref/GetAtt/Sub of a root resource becomes a parameter of its
//     nested stack (named as the resource for a Ref, resource + attribute for a GetAtt),
//     passed by the root with the original expression;
//   * a moved resource's DependsOn on a root resource becomes its nested stack's;
//   * a root resource's DependsOn on a moved one becomes a DependsOn on its nested stack;
//   * a root output of a moved resource becomes an output of the nested stack, read back.
// Anything else that would cross (a root resource's Ref to a moved one, a reference
// between two nested stacks, a Condition on a moved resource) stops the packaging.
//
// The templates are written beside the root one (`.serverless/nested-<Stack>.json`), with
// the flat template as compiled (`cloudformation-template-flat.json`) for the tests, which
// inline the nested stacks back and compare. `serverless deploy` uploads them next to the
// code, under the deployment's artifact directory, where the root's TemplateURLs point.

const fs = require('fs');
const path = require('path');

const FLAT = 'cloudformation-template-flat.json';
const PREFIX = 'nested-';

class NestedStacks {
  constructor(serverless, options) {
    this.serverless = serverless;
    this.options = options || {};
    this.hooks = {
      'after:aws:package:finalize:mergeCustomProviderResources': () => this.split(),
      'after:aws:deploy:deploy:uploadArtifacts': () => this.upload(),
    };
  }

  packageDir() {
    const base = this.serverless.serviceDir || this.serverless.config.servicePath;
    return this.options.package ? path.resolve(base, this.options.package) : path.join(base, '.serverless');
  }

  split() {
    const service = this.serverless.service;
    const families = (service.custom && service.custom.nestedStacks) || {};
    const template = service.provider.compiledCloudFormationTemplate;
    const naming = this.serverless.getProvider('aws').naming;
    const dir = this.packageDir();
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, FLAT), JSON.stringify(template, null, 2));

    // Which nested stack each moved resource goes to.
    const owner = new Map();
    const claim = (id, stack) => {
      if (!template.Resources[id]) throw new Error(`nested-stacks: no resource ${id} (for ${stack})`);
      if (owner.has(id)) throw new Error(`nested-stacks: ${id} claimed by ${owner.get(id)} and ${stack}`);
      owner.set(id, stack);
    };
    for (const [stack, family] of Object.entries(families)) {
      for (const fn of family.functions) {
        const norm = naming.getNormalizedFunctionName(fn);
        const own = [`${norm}LambdaFunction`, `${norm}LogGroup`, `HttpApiIntegration${norm}`];
        for (const id of Object.keys(template.Resources)) {
          if (own.includes(id) || id.startsWith(`${norm}LambdaVersion`) || id.startsWith(`${norm}LambdaPermission`)
              || id.startsWith(`${norm}LambdaFunctionDeploymentGroup`) || id.startsWith(`${norm}LambdaFunctionAlias`)) {
            claim(id, stack);
          }
        }
      }
      for (const id of family.resources || []) claim(id, stack);
    }

    const nested = {};
    for (const stack of Object.keys(families)) {
      nested[stack] = { AWSTemplateFormatVersion: '2010-09-09', Description: `Tucano routes: ${stack}`,
        Parameters: {}, Resources: {}, Outputs: {} };
    }
    const passed = {}; // stack -> parameter name -> expression the root passes
    const stackDependsOn = {}; // stack -> root resources it waits for
    for (const stack of Object.keys(families)) { passed[stack] = {}; stackDependsOn[stack] = new Set(); }

    const param = (stack, name, expression) => {
      if (template.Resources[name] && owner.get(name) !== undefined) {
        throw new Error(`nested-stacks: parameter ${name} would shadow a moved resource`);
      }
      const seen = passed[stack][name];
      if (seen && JSON.stringify(seen) !== JSON.stringify(expression)) {
        throw new Error(`nested-stacks: parameter ${name} of ${stack} stands for two expressions`);
      }
      passed[stack][name] = expression;
      nested[stack].Parameters[name] = { Type: 'String' };
      return name;
    };
    const attrName = (id, attr) => `${id}${attr.replace(/[^A-Za-z0-9]/g, '')}`;

    // Rewrites one moved resource's references to the root into parameters.
    const rewrite = (stack, node) => {
      if (Array.isArray(node)) return node.map((n) => rewrite(stack, n));
      if (node === null || typeof node !== 'object') return node;
      const keys = Object.keys(node);
      if (keys.length === 1 && keys[0] === 'Ref') {
        const id = node.Ref;
        if (typeof id !== 'string' || id.startsWith('AWS::') || owner.get(id) === stack) return node;
        if (owner.has(id)) throw new Error(`nested-stacks: ${stack} refers to ${id} in ${owner.get(id)}`);
        if (!template.Resources[id] && !(template.Parameters || {})[id]) return node;
        return { Ref: param(stack, id, { Ref: id }) };
      }
      if (keys.length === 1 && keys[0] === 'Fn::GetAtt') {
        const [id, attr] = Array.isArray(node['Fn::GetAtt']) ? node['Fn::GetAtt'] : node['Fn::GetAtt'].split(/\.(.+)/);
        if (owner.get(id) === stack) return node;
        if (owner.has(id)) throw new Error(`nested-stacks: ${stack} refers to ${id} in ${owner.get(id)}`);
        return { Ref: param(stack, attrName(id, attr), { 'Fn::GetAtt': [id, attr] }) };
      }
      if (keys.length === 1 && keys[0] === 'Fn::Sub') {
        const sub = node['Fn::Sub'];
        const [text, vars] = Array.isArray(sub) ? sub : [sub, undefined];
        const local = new Set(Object.keys(vars || {}));
        const replaced = text.replace(/\$\{([^!}][^}]*)\}/g, (whole, name) => {
          const [id, attr] = name.split(/\.(.+)/);
          if (local.has(name) || id.startsWith('AWS::') || owner.get(id) === stack) return whole;
          if (owner.has(id)) throw new Error(`nested-stacks: ${stack} refers to ${id} in ${owner.get(id)}`);
          if (!template.Resources[id] && !(template.Parameters || {})[id]) return whole;
          if (attr === undefined) return `\${${param(stack, id, { Ref: id })}}`;
          return `\${${param(stack, attrName(id, attr), { 'Fn::GetAtt': [id, attr] })}}`;
        });
        const out = vars === undefined ? replaced : [replaced, rewrite(stack, vars)];
        return { 'Fn::Sub': out };
      }
      if (keys.includes('Fn::If')) {
        // Conditions are the root's; a nested template would not know them. (A `Condition`
        // key inside an IAM policy statement is the policy's own, not a template condition.)
        throw new Error(`nested-stacks: a moved resource of ${stack} uses a condition; keep it in the root`);
      }
      const out = {};
      for (const k of keys) out[k] = rewrite(stack, node[k]);
      return out;
    };

    for (const [id, stack] of owner) {
      const resource = template.Resources[id];
      if (resource.Condition) throw new Error(`nested-stacks: ${id} has a Condition; keep it in the root`);
      const moved = rewrite(stack, resource);
      if (moved.DependsOn !== undefined) {
        const deps = [].concat(moved.DependsOn);
        const inside = deps.filter((d) => owner.get(d) === stack);
        for (const d of deps.filter((d) => owner.get(d) !== stack)) {
          if (owner.has(d)) throw new Error(`nested-stacks: ${id} depends on ${d} in ${owner.get(d)}`);
          stackDependsOn[stack].add(d);
        }
        if (inside.length) moved.DependsOn = inside; else delete moved.DependsOn;
      }
      nested[stack].Resources[id] = moved;
      delete template.Resources[id];
    }

    // What the root still says about moved resources: the moved ids a node refers to.
    const movedIn = (node, found = new Set()) => {
      if (Array.isArray(node)) node.forEach((n) => movedIn(n, found));
      if (node === null || typeof node !== 'object' || Array.isArray(node)) return found;
      if (typeof node.Ref === 'string' && owner.has(node.Ref)) found.add(node.Ref);
      const ga = node['Fn::GetAtt'];
      if (ga) {
        const id = Array.isArray(ga) ? ga[0] : String(ga).split('.')[0];
        if (owner.has(id)) found.add(id);
      }
      const sub = node['Fn::Sub'];
      if (sub) {
        for (const m of String(Array.isArray(sub) ? sub[0] : sub).matchAll(/\$\{([^!}][^}.]*)/g)) {
          if (owner.has(m[1])) found.add(m[1]);
        }
      }
      Object.values(node).forEach((n) => movedIn(n, found));
      return found;
    };
    for (const [id, resource] of Object.entries(template.Resources)) {
      const { DependsOn, ...rest } = resource;
      if (movedIn(rest).size) throw new Error(`nested-stacks: root resource ${id} refers to a moved resource`);
      if (DependsOn !== undefined) {
        resource.DependsOn = [...new Set([].concat(DependsOn).map((d) => (owner.has(d) ? stackId(owner.get(d)) : d)))];
      }
    }
    for (const [name, output] of Object.entries(template.Outputs || {})) {
      const stacks = new Set([...movedIn(output.Value)].map((id) => owner.get(id)));
      if (stacks.size === 0) continue;
      if (stacks.size > 1) throw new Error(`nested-stacks: output ${name} spans stacks`);
      const [stack] = stacks;
      nested[stack].Outputs[name] = { Value: rewrite(stack, output.Value) };
      output.Value = { 'Fn::GetAtt': [stackId(stack), `Outputs.${name}`] };
    }

    const artifactDir = service.package.artifactDirectoryName;
    for (const stack of Object.keys(families)) {
      const file = `${PREFIX}${stack}.json`;
      if (!Object.keys(nested[stack].Outputs).length) delete nested[stack].Outputs;
      fs.writeFileSync(path.join(dir, file), JSON.stringify(nested[stack], null, 2));
      const resource = {
        Type: 'AWS::CloudFormation::Stack',
        Properties: {
          TemplateURL: { 'Fn::Sub': `https://\${ServerlessDeploymentBucket}.s3.\${AWS::Region}.\${AWS::URLSuffix}/${artifactDir}/${file}` },
          Parameters: passed[stack],
        },
        Metadata: { TucanoNestedTemplate: file },
      };
      if (stackDependsOn[stack].size) resource.DependsOn = [...stackDependsOn[stack]].sort();
      template.Resources[stackId(stack)] = resource;
    }
  }

  // After the framework's own uploads (code, root template), before the stack update: the
  // nested templates under the same artifact directory, encrypted as the bucket asks.
  async upload() {
    const service = this.serverless.service;
    if (service.provider.shouldNotDeploy) return;
    const provider = this.serverless.getProvider('aws');
    const bucket = await provider.getServerlessDeploymentBucketName();
    const encryption = (service.provider.deploymentBucketObject || {}).serverSideEncryption;
    const artifactDir = service.package.artifactDirectoryName;
    const dir = this.packageDir();
    const files = fs.readdirSync(dir).filter((f) => f.startsWith(PREFIX) && f.endsWith('.json'));
    for (const file of files) {
      await provider.request('S3', 'putObject', {
        Bucket: bucket,
        Key: `${artifactDir}/${file}`,
        Body: fs.readFileSync(path.join(dir, file)),
        ContentType: 'application/json',
        ...(encryption ? { ServerSideEncryption: encryption } : {}),
      });
    }
  }
}

function stackId(stack) {
  return `${stack}NestedStack`;
}

module.exports = NestedStacks;
