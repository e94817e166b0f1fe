import { strict as assert } from 'node:assert';
import { createNonce, panelCsp, renderPanelHtml } from '../../../src/extension/panelHtml';

const options = {
  cspSource: 'https://file+.vscode-resource.vscode-cdn.net',
  nonce: 'abcDEF123_-',
  scriptUri: 'https://file+.vscode-resource.vscode-cdn.net/ext/dist/webview/panel.js',
  toolkitUri: 'https://file+.vscode-resource.vscode-cdn.net/ext/dist/webview/toolkit.min.js',
  styleUri: 'https://file+.vscode-resource.vscode-cdn.net/ext/media/panel.css',
  title: 'Scan of <img src=x onerror=alert(1)> & "friends"',
};

describe('renderPanelHtml', () => {
  const html = renderPanelHtml(options);

  it('declares the strict CSP with the nonce', () => {
    const expected = `default-src 'none'; img-src ${options.cspSource} data:; style-src ${options.cspSource}; font-src ${options.cspSource}; script-src 'nonce-${options.nonce}';`;
    assert.equal(panelCsp(options.cspSource, options.nonce), expected);
    const meta = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(html);
    assert.ok(meta, 'CSP meta tag present');
    assert.equal(meta[1].replace(/&#39;/g, "'"), expected);
  });

  it('loads exactly two scripts, both external modules with the nonce, toolkit first', () => {
    const scripts = [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    assert.equal(scripts.length, 2);
    for (const [, attributes, body] of scripts) {
      assert.match(attributes, /type="module"/);
      assert.match(attributes, new RegExp(`nonce="${options.nonce}"`));
      assert.equal(body, '', 'no inline script');
    }
    assert.ok(scripts[0][1].includes(options.toolkitUri) && scripts[1][1].includes(options.scriptUri));
  });

  it('has no inline handlers, style attributes or style elements, and escapes the title', () => {
    const tags = html.match(/<[a-z][^>]*>/gi) ?? [];
    assert.ok(tags.length > 5);
    for (const tag of tags) {
      assert.doesNotMatch(tag, /\son[a-z]+\s*=/i, tag);
      assert.doesNotMatch(tag, /\sstyle\s*=/i, tag);
    }
    assert.doesNotMatch(html, /<style/i);
    assert.ok(html.includes('<title>Scan of &lt;img src=x onerror=alert(1)&gt; &amp; &quot;friends&quot;</title>'));
    assert.ok(!html.includes('<img'));
  });

  it('refuses a nonce or CSP source that could break out of the policy', () => {
    assert.throws(() => renderPanelHtml({ ...options, nonce: "x' 'unsafe-inline" }), /nonce/);
    assert.throws(() => renderPanelHtml({ ...options, cspSource: "https://a; script-src 'unsafe-inline'" }), /cspSource/);
    assert.throws(() => renderPanelHtml({ ...options, cspSource: "'self' 'unsafe-inline'" }), /cspSource/);
    assert.throws(() => renderPanelHtml({ ...options, cspSource: 'https://a\nscript-src *' }), /cspSource/);
    assert.throws(() => renderPanelHtml({ ...options, cspSource: 'https://a "x' }), /cspSource/);
    // VS Code desktop's real value is a source list; it must be accepted as is.
    const desktop = "'self' https://*.vscode-cdn.net";
    assert.match(renderPanelHtml({ ...options, cspSource: desktop }), /img-src &#39;self&#39; https:\/\/\*\.vscode-cdn\.net data:/);
  });

  it('creates fresh URL-safe nonces of 128 bits', () => {
    const nonces = new Set(Array.from({ length: 50 }, () => createNonce()));
    assert.equal(nonces.size, 50);
    for (const nonce of nonces) assert.match(nonce, /^[A-Za-z0-9_-]{22}$/);
  });
});
