/**
 * Hand-written vocabularies for the synthetic lake. They imitate the shape of
 * the real Sparkify data (US metro-area locations, 2014-era browser user
 * agents, Million-Song-Dataset style titles) without copying it.
 */

export const FEMALE_NAMES = [
  'Ava', 'Chloe', 'Harper', 'Isla', 'Jade', 'Layla', 'Maya', 'Nora', 'Olive', 'Piper',
  'Quinn', 'Ruby', 'Sienna', 'Tessa', 'Uma', 'Vera', 'Willa', 'Yara', 'Zoe', 'Elena',
  'Brianna', 'Delia', 'Fiona', 'Greta', 'Hazel', 'Iris', 'June', 'Kira', 'Lena', 'Mila',
] as const;

export const MALE_NAMES = [
  'Aaron', 'Blake', 'Caleb', 'Dorian', 'Elliot', 'Felix', 'Gavin', 'Hector', 'Ivan', 'Jasper',
  'Kieran', 'Logan', 'Miles', 'Nolan', 'Owen', 'Preston', 'Reid', 'Silas', 'Tobias', 'Victor',
  'Wesley', 'Xavier', 'Zane', 'Brody', 'Colin', 'Dante', 'Emmett', 'Grant', 'Hugo', 'Jonah',
] as const;

export const LAST_NAMES = [
  'Abbott', 'Barrett', 'Calloway', 'Dunn', 'Ellison', 'Fletcher', 'Garrison', 'Holt', 'Ingram',
  'Jennings', 'Kessler', 'Lowery', 'Mercer', 'Norris', 'Ortega', 'Pruitt', 'Quintero', 'Rhodes',
  'Sutton', 'Tate', 'Underwood', 'Vaughn', 'Whitaker', 'Yates', 'Zamora', 'Booker', 'Crane',
  'Delgado', 'Foley', 'Hale', 'Keller', 'Lambert', 'Marsh', 'Patton', 'Rowe', 'Stanton',
] as const;

/** US metropolitan statistical areas, written the way the event logs write them. */
export const USER_LOCATIONS = [
  'Boston-Cambridge-Newton, MA-NH',
  'Denver-Aurora-Lakewood, CO',
  'Seattle-Tacoma-Bellevue, WA',
  'Austin-Round Rock, TX',
  'Miami-Fort Lauderdale-West Palm Beach, FL',
  'Minneapolis-St. Paul-Bloomington, MN-WI',
  'Philadelphia-Camden-Wilmington, PA-NJ-DE-MD',
  'Kansas City, MO-KS',
  'Salt Lake City, UT',
  'Columbus, OH',
  'Raleigh, NC',
  'Louisville/Jefferson County, KY-IN',
  'Nashville-Davidson--Murfreesboro--Franklin, TN',
  'Providence-Warwick, RI-MA',
  'Albuquerque, NM',
  'Boise City, ID',
  'Des Moines-West Des Moines, IA',
  'Spokane-Spokane Valley, WA',
  'Ann Arbor, MI',
  'Burlington-South Burlington, VT',
  'Santa Fe, NM',
  'Madison, WI',
  'Richmond, VA',
  'Tucson, AZ',
  'Eugene, OR',
  'Fargo, ND-MN',
] as const;

/**
 * Browser user agents of the era. As in the real logs, an agent that contains
 * a comma is written wrapped in literal double quotes (CSV-style); the others
 * are written bare. `quoteUserAgent` applies that rule.
 */
export const USER_AGENTS = [
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_5) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/38.0.2125.104 Safari/537.36',
  'Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/37.0.2062.120 Safari/537.36',
  'Mozilla/5.0 (Windows NT 6.3; WOW64; rv:32.0) Gecko/20100101 Firefox/32.0',
  'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:32.0) Gecko/20100101 Firefox/32.0',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_10) AppleWebKit/600.1.25 (KHTML, like Gecko) Version/8.0 Safari/600.1.25',
  'Mozilla/5.0 (iPad; CPU OS 8_0_2 like Mac OS X) AppleWebKit/600.1.4 (KHTML, like Gecko) Version/8.0 Mobile/12A405 Safari/600.1.4',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 7_1_2 like Mac OS X) AppleWebKit/537.51.2 (KHTML, like Gecko) Version/7.0 Mobile/11D257 Safari/9537.53',
  'Mozilla/5.0 (Windows NT 6.1; rv:32.0) Gecko/20100101 Firefox/32.0',
  'Mozilla/5.0 (Windows NT 6.1; Trident/7.0; rv:11.0) like Gecko',
  'Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.2; WOW64; Trident/6.0)',
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/38.0.2125.101 Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/39.0.2171.65 Safari/537.36',
] as const;

export function quoteUserAgent(ua: string): string {
  return ua.includes(',') ? `"${ua}"` : ua;
}

/** Artist home towns with coordinates (5 decimals, as in the song files). */
export const ARTIST_PLACES: ReadonlyArray<readonly [string, number, number]> = [
  ['Memphis, TN', 35.14968, -90.04892],
  ['Detroit, MI', 42.33168, -83.04792],
  ['Austin, TX', 30.26759, -97.74299],
  ['Athens, GA', 33.95961, -83.37668],
  ['Seattle, WA', 47.60357, -122.32945],
  ['Chicago, IL', 41.88415, -87.63241],
  ['New Orleans, LA', 29.95369, -90.07771],
  ['Manchester, England', 53.47962, -2.24881],
  ['Glasgow, Scotland', 55.85711, -4.24251],
  ['Dublin, Ireland', 53.34376, -6.24953],
  ['Reykjavík, Iceland', 64.13548, -21.89541],
  ['São Paulo, Brazil', -23.56287, -46.65467],
  ['Montréal, Québec', 45.51228, -73.55439],
  ['Kingston, Jamaica', 17.99702, -76.79358],
  ['Berlin, Germany', 52.51607, 13.37698],
  ['Göteborg, Sweden', 57.70133, 11.96728],
  ['Lagos, Nigeria', 6.45306, 3.39583],
  ['Tokyo, Japan', 35.68309, 139.80887],
  ['Melbourne, Australia', -37.81753, 144.96715],
  ['California - LA', 34.05349, -118.24532],
  ['Brooklyn, NY', 40.65507, -73.94888],
  ['Bristol, UK', 51.45365, -2.59125],
  ['Havana, Cuba', 23.13517, -82.35891],
  ['Paris, France', 48.85692, 2.34121],
];

/** Locations that appear without coordinates. */
export const LOOSE_PLACES = [
  'UK', 'California', 'New York, NY', 'Texas', 'Canada', 'Midwest', 'Sweden', 'Pacific Northwest',
  'London, England', 'Long Beach, CA', 'Bogotá, Colombia', 'Zürich',
] as const;

export const ARTIST_FIRST = [
  'Mara', 'Dex', 'Otis', 'Lila', 'Ramon', 'Ines', 'Sol', 'Kofi', 'Nadia', 'Theo', 'Björn',
  'Zoë', 'José', 'Anaïs', 'Renée', 'Søren', 'Marek', 'Yuki', 'Ada', 'Cyrus',
] as const;

export const ARTIST_LAST = [
  'Calder', 'Vance', 'Okafor', 'Lindqvist', 'Moreau', 'Reyes', 'Hollis', 'Brandt', 'Castellano',
  'Duarte', 'Novak', 'Whitfield', 'Ibáñez', 'Łukasik', 'Nguyễn', 'Fairweather', 'Kowalczyk',
] as const;

export const BAND_ADJ = [
  'Velvet', 'Broken', 'Silver', 'Electric', 'Hollow', 'Midnight', 'Crimson', 'Paper', 'Golden',
  'Static', 'Lucid', 'Wild', 'Neon', 'Quiet', 'Burning', 'Northern', 'Lonely', 'Atomic',
] as const;

export const BAND_NOUN = [
  'Harbors', 'Foxes', 'Machines', 'Tides', 'Sparrows', 'Lanterns', 'Ghosts', 'Engines', 'Rivers',
  'Satellites', 'Wolves', 'Mirrors', 'Horses', 'Parade', 'Collective', 'Orchestra', 'Brothers',
] as const;

export const TITLE_WORDS = [
  'Love', 'Night', 'Heart', 'Rain', 'Fire', 'Dream', 'Road', 'Home', 'Light', 'Summer', 'Blue',
  'Dancing', 'Falling', 'Gold', 'River', 'Stars', 'Sweet', 'Lonely', 'Tomorrow', 'Shadow',
  'Mountain', 'City', 'Forever', 'Ocean', 'Yesterday', 'Whisper', 'Thunder', 'Angel', 'Train',
  'Morning', 'Silence', 'Window', 'Paradise', 'Echo', 'Winter', 'Daylight', 'Memory', 'Storm',
] as const;

/** Title fragments in other languages, written in real Unicode. */
export const FOREIGN_TITLES = [
  'Canción del Mar', 'Déjà Vu', 'Über den Wolken', 'Niño Perdido', '¿Por Qué No?', 'Café Noir',
  'Ça Ira', 'Mañana', 'Für Elise (Remix)', 'Sjöman', 'Kärlek', 'Señorita Luna', 'Açaí',
  'Москва ночью', '夜の街', 'Ελπίδα', 'Corazón Partío', 'Olé Olé', 'Naïve', 'Smörgåsbord',
] as const;

export const TITLE_SUFFIXES = [
  ' (Album Version)', ' (LP Version)', ' (Remix)', ' (Live)', ' (Radio Edit)',
  ' (Extended Mix)', ' (Acoustic)', ' (Remastered)', ' (Demo)', ' (Instrumental)',
] as const;

export const FEAT_JOINERS = [' & ', ' feat. ', ' / ', ';', ' and ', ' vs. '] as const;
