"""Table-driven tests of the safety-override rules (`classifier/data/safety_rules.yaml`).

A safety rule that fires turns a message into `critical`: a senior manager is phoned at once.
The definition comes from `shared/labeling-guide.md`: someone's life or health is in danger right
now, urgent medical help is needed, or a death has just happened during or right after a service.
Questions, hypotheticals, idioms, negated, settled or old events and texts that are not about pets
or the service are not emergencies.

Every case is a `(text, expected)` tuple written by hand, like the tables of natasha and
pymorphy2 tests. `expected` is one of:

- a rule id (`"breathing"`, `"died"`, ...): that rule must be the one `SafetyRules.check`
  reports, i.e. the first rule in the file that fires;
- `ANY`: the message is clearly an emergency but several rules fit it, so some rule must fire,
  whichever it is;
- `None`: no rule may fire.

Positive tables:

- `TRIGGERS`: the trigger words of every rule in different inflections, word orders, registers
  (chat, e-mail, call notes), both reporters (clients and executors), capitals and emoji;
- `TYPOS`: the same with typos in the trigger words («атравилась», «кравь», «судароги»);
- `SEVERAL_RULES`: short messages where more than one rule fits (`ANY`);
- `LONG_MESSAGES`: e-mails and executor reports of 5-10 sentences, with greeting and
  signature, where the danger is in the middle.

Negative tables (`None`):

- `NEGATIONS`: the danger is denied or did not happen («никто не пострадал», «не отравилась»);
- `HYPOTHETICALS`: questions and "what if" («что делать, если собака съест шоколад?»);
- `IDIOMS`: figures of speech («чуть не умерла со смеху», «мёртвая зона»);
- `SETTLED_AND_PAST`: events long ago, or settled with a vet, or deaths unrelated to a service;
- `UNRELATED`: texts with no pet or service context, and things (phones, apps) that "die";
- `ROUTINE`: ordinary service messages: booking, payment, keys, reports, thanks.

The cases describe what the quality team expects, not what the rules happen to match today: a
failing case is a gap in the rules (or the engine) to fix, not a case to delete. A failure prints
what fired and what every rule thought (`SafetyRules.explain`).
"""

from __future__ import annotations

from datetime import date
from importlib import resources
from pathlib import Path

import pytest

from pettriage.classifier.features import prepare
from pettriage.classifier.safety import SafetyRules

ANY = "<any rule>"

# -- positive: one rule is clearly meant ---------------------------------------------------------
TRIGGERS = [
    # died: a pet (or a person) died during or right after the service
    ("Кот умер прямо у меня на руках, я не знаю, что делать", "died"),
    ("Пришла на визит, а рыбка сдохла, плавает кверху брюхом", "died"),
    ("Сдохла рыбка, пока ситтер была у нас, вода в аквариуме мутная", "died"),
    ("Кота не стало сегодня утром, ситтер нашла его под кроватью", "died"),
    ("Собака погибла на прогулке, выгульщица только что позвонила", "died"),
    ("Когда я пришла, попугай был уже мёртвый, лежал на дне клетки", "died"),
    ("ХОМЯК УМЕР!!! ситтер кормил его чем-то не тем", "died"),
    (
        "Звонок клиентки: щенок скончался час назад после прогулки с исполнителем, "
        "клиентка в истерике",
        "died",
    ),
    ("Ветеринар не смог спасти нашу Мусю, она умерла через час после визита ситтера", "died"),
    ("Черепашка сдохла сегодня, сиделка оставила её на батарее", "died"),
    ("Исполнитель сообщает: собака клиента упала на прогулке и больше не встала", "died"),
    # dying
    ("Собака при смерти, лежит на боку и почти не реагирует, что делать??", "dying"),
    ("Кошка умирает, помогите, ситтер дал ей какие-то таблетки", "dying"),
    ("Питомец не подаёт признаков жизни, исполнитель на месте", "dying"),
    ("Пёс в агонии, мы едем в клинику", "dying"),
    ("Котёнок впал в кому после того, как выгульщица его уронила", "dying"),
    ("Кажется, наш кролик умирает, ситтер говорит, он лежит и не ест", "dying"),
    # breathing
    ("Собака не дышит!!! срочно", "breathing"),
    ("кот перестал дышать у меня на руках", "breathing"),
    ("Щенок задыхается, что-то попало ему в горло на прогулке", "breathing"),
    ("Она не дышала почти минуту, сейчас дышит еле-еле, кошка вся обмякла", "breathing"),
    ("Кошка подавилась костью и хрипит", "breathing"),
    ("Попугай тяжело дышит с открытым клювом, сидит на дне клетки", "breathing"),
    (
        "Добрый вечер, это ситтер Ольга. Пёс хозяйки посинел и не может дышать, везу в клинику",
        "breathing",
    ),
    ("СОБАКА ЗАДЫХАЕТСЯ, ЯЗЫК СИНИЙ, ЧТО ДЕЛАТЬ", "breathing"),
    # unconscious
    ("Собака без сознания, лежит на полу в коридоре", "unconscious"),
    ("Кот потерял сознание после укола, который ему сделала ситтер", "unconscious"),
    ("Пёс упал и не встаёт, не реагирует на кличку", "unconscious"),
    ("Кошка лежит и не шевелится, глаза открыты, исполнитель в панике", "unconscious"),
    ("Клиент сообщает: собака упала в обморок на лестнице, исполнитель рядом", "unconscious"),
    ("Кролик завалился на бок и не двигается", "unconscious"),
    # seizures
    ("У собаки судороги, её всю трясёт", "seizures"),
    ("Кот бьётся в судорогах, ситтер держит его на полу", "seizures"),
    ("У таксы эпилептический приступ, а таблетки ситтер ей утром не дала", "seizures"),
    ("Пёс упал на прогулке, начались конвульсии", "seizures"),
    ("припадок у собаки прямо на прогулке, исполнитель не знает, что делать", "seizures"),
    ("Кошку трясёт всем телом, как в судороге, минут пять уже", "seizures"),
    # bleeding
    ("Кровь не останавливается, собака порезала лапу о стекло", "bleeding"),
    ("У собаки сильное кровотечение из лапы после прогулки, порезалась о стекло", "bleeding"),
    ("Кот весь в крови, ситтер прищемил ему хвост дверью", "bleeding"),
    ("У пса кровь идёт из носа и не останавливается", "bleeding"),
    ("На полу лужа крови, собака поранилась об осколки вазы", "bleeding"),
    ("Глубокая рана на боку у кошки, сильно кровоточит", "bleeding"),
    ("Ситтер поранила коту ухо при стрижке, кровь хлещет, не могу остановить", "bleeding"),
    # poisoning
    ("Собака съела шоколад, который ситтер оставил на столе", "poisoning"),
    ("Пёс наелся крысиного яда во дворе, пока выгульщица болтала по телефону", "poison_taken"),
    ("Кот сгрыз лилию из букета, слюни текут рекой", "poisoning"),
    ("У собаки пена изо рта, подозреваю отравление", "poisoning"),
    ("Щенок отравился, выгульщик дал ему что-то со стола", "poisoning"),
    ("Исполнитель дал коту парацетамол от температуры!!! Кот вялый", "poison_taken"),
    ("Кот вылизал антифриз в гараже, пока ситтер не видела", "poison_taken"),
    ("Собаку отравили на прогулке, она подобрала какую-то приманку", "poisoning"),
    ("Кажется, ситтер отравила кошку, дала ей свой ибупрофен", "poisoning"),
    # swallowed
    ("Кот проглотил иголку с ниткой, пока ситтер шила", "swallowed"),
    ("Собака проглотила носок, её рвёт", "swallowed"),
    ("Щенок проглотил батарейку от пульта", "swallowed"),
    (
        "Пёс сожрал целую упаковку таблеток хозяйки, которые ситтер оставила на тумбочке",
        "swallowed",
    ),
    ("Кошка проглотила дождик с ёлки", "swallowed"),
    ("Собаке кость застряла в горле, выгульщик пытается достать", "swallowed"),
    ("Собака сгрызла блистер с таблетками", "swallowed"),
    ("Попугай проглотил кусок пластиковой игрушки", "swallowed"),
    # hit_by_vehicle
    ("Собаку сбила машина!!!", "hit_by_vehicle"),
    ("Машина сбила кота у подъезда", "hit_by_vehicle"),
    ("Пёс попал под машину на прогулке, выгульщик отпустил его с поводка", "hit_by_vehicle"),
    ("Щенка переехала машина во дворе", "hit_by_vehicle"),
    ("На собаку наехал автомобиль на парковке у дома клиента", "hit_by_vehicle"),
    ("Выгульщицу с собакой сбил самокатчик, собака хромает и скулит", "hit_by_vehicle"),
    ("Исполнитель звонит с улицы: такса попала под колёса такси, лапа висит", "hit_by_vehicle"),
    # attacked
    ("На нашу собаку напала стая бродячих собак во время прогулки", "attacked"),
    ("Овчарка покусала мою собачку на площадке, выгульщица смотрела в телефон", "attacked"),
    ("Бродячие собаки искусали корги, выгульщица не уследила", "attacked"),
    ("Ротвейлер вцепился в горло нашему шпицу прямо на прогулке", "attacked"),
    ("Пёс хозяйки укусил меня за лицо, я в шоке", "attacked"),
    ("Кота подрала соседская собака в подъезде", "attacked"),
    # fall_from_height
    ("Кот выпал из окна, ситтер оставила окно открытым!!!", "fall_from_height"),
    ("Кошка выпала с балкона 7 этажа", "fall_from_height"),
    ("Собака упала с балкона, лежит внизу, я бегу к ней", "fall_from_height"),
    ("Котик выпрыгнул из окна за голубем, ситтер сняла москитную сетку", "fall_from_height"),
    ("Ситтер не закрыла окно, кот сорвался с подоконника с пятого этажа", "fall_from_height"),
    ("Кот выпал с девятого этажа, исполнитель бежит вниз", "fall_from_height"),
    ("Собака провалилась под лёд на пруду, выгульщик не может её достать", "fall_from_height"),
    # on_the_ledge: danger without harm yet
    ("Кот сидит на карнизе снаружи, окно открыто, ситтер ушла", "on_the_ledge"),
    ("Собака сорвалась с поводка и бегает по дороге", "on_the_ledge"),
    ("Пёс вырвался с поводка и убежал на дорогу, машины сигналят", "on_the_ledge"),
    ("Кошка сидит на открытом окне, 10 этаж, москитку ситтер сняла", "on_the_ledge"),
    ("Кот-диабетик остался без инсулина, ситтер второй день не приходит", "on_the_ledge"),
    ("Собака потерялась на прогулке, выгульщик не может её найти уже час", "on_the_ledge"),
    ("В квартире клиента хлещет вода с потолка, кошка заперта в ванной", "on_the_ledge"),
    ("Кот уже сутки без еды и воды, исполнитель так и не пришёл", "on_the_ledge"),
    # fire_smoke
    ("Пожар в квартире клиента, кот внутри!", "fire_smoke"),
    ("В квартире дым, пахнет гарью, я с собакой выбежала на лестницу", "fire_smoke"),
    (
        "Ситтер оставила включённую плиту, в квартире задымление, собака внутри",
        "fire_smoke",
    ),
    ("Пахнет газом в квартире, кошки дома, ситтер уже ушла", "fire_smoke"),
    ("Загорелась проводка у аквариума, исполнитель тушит", "fire_smoke"),
    ("Дым валит из-под двери квартиры клиента, там собака", "fire_smoke"),
    ("Прорвало трубу у клиента, воды по щиколотку, кот сидит на шкафу и орёт", "flood"),
    ("Ситтер оставила кран открытым, затопило ванную, собака заперта там", "flood"),
    (
        "Сосед клиента звонит: из квартиры идёт дым, внутри два кота, исполнитель не отвечает",
        "fire_smoke",
    ),
    # emergency_help
    ("Вызвали скорую, ситтеру плохо в квартире клиента", "emergency_help"),
    ("Срочно везём кота в ветклинику, какая ближайшая круглосуточная?", "emergency_help"),
    ("Куда везти собаку ночью?? ей очень плохо", "emergency_help"),
    ("Кот в реанимации после визита исполнителя", "emergency_help"),
    ("Нужна экстренная помощь, собака очень плохо выглядит", "emergency_help"),
    ("Исполнитель вызвал ветеринарную скорую на дом к собаке клиента", "emergency_help"),
    ("Угроза жизни, собаку оперируют прямо сейчас", "emergency_help"),
    # person_threat: someone attacking or threatening a person in the home
    ("Хозяин квартиры пьяный, угрожает мне ножом, я закрылась в ванной", "person_threat"),
    ("В квартиру клиента ломится какой-то мужчина, я с собакой внутри", "person_threat"),
    ("Муж клиентки кинулся на меня, когда я пришла выгуливать собаку", "person_threat"),
    ("Клиент не выпускает меня из квартиры, забрал ключи, собака лает", "person_threat"),
    ("Мужчина в квартире схватил нож и кричит, что убьёт меня", "person_threat"),
    ("Сосед клиента пристаёт ко мне в подъезде, когда я выхожу с собакой", "person_threat"),
    (
        "Ситтер звонит шёпотом: в квартире посторонний с ножом, она заперлась в туалете",
        "person_threat",
    ),
    ("Клиент ударил меня по лицу, когда я вернула ему собаку после прогулки", "person_threat"),
]

TYPOS = [
    ("Кошка атравилась чем-то на прогулке, её рвёт", "poisoning"),
    ("пёс отровился на прогулке, выгульщик не уследил", "poisoning"),
    ("Кравь не останавливается, собака порезала лапу", "bleeding"),
    ("у собаки сильное кравотечение из лапы", "bleeding"),
    ("мопс задыхаеться, язык весь синий!!", "breathing"),
    ("Кошка не дышыт!!! ситтер звонит в панике", "breathing"),
    ("Собака подавилась касточкой и хрепит", "breathing"),
    ("у кота судароги, трясёт всего", "seizures"),
    ("у собаки канвульсии, ситтер держит её голову", "seizures"),
    ("Щенок потерял сазнание на прогулке", "unconscious"),
    ("Котёнок без сознанья, лежит на боку", "unconscious"),
    ("собаку сбила машына у подъезда", "hit_by_vehicle"),
    ("пажар в квартире клиента, кот заперт внутри", "fire_smoke"),
    ("Кот праглотил иголку с ниткой", "swallowed"),
    ("кот выпал с болкона, ситтер не закрыл дверь", "fall_from_height"),
    ("Собаку пакусали бродячие собаки во дворе", "attacked"),
    ("Мужик в квартире клиента угражает мне ножом", "person_threat"),
    ("Кошка сдохла, пока ситер была в квартире, вода в миске грязная", "died"),
]

# -- positive: some rule must fire, several fit ---------------------------------------------------
SEVERAL_RULES = [
    ("Шпица рвёт с кровью, ситтер говорит, он что-то съел на улице", ANY),
    ("Хаски перегрелась на прогулке, тепловой удар, лежит и не встаёт", ANY),
    ("Подскажите ближайшую ветклинику, срочно! пёс скулит и не встаёт", ANY),
    ("Собаку сбила машина, она не дышит, я на Ленина 5", ANY),
    ("Помогите!!! кот упал, хрипит и не шевелится", ANY),
    ("Срочно перезвоните!!! с собакой беда, у неё пена изо рта и судороги", ANY),
    ("Ситтер пишет: кошке очень плохо, рвёт, шатается и падает, везу к врачу", ANY),
    ("😱😱 кот выпал с балкона, живой, но кровь из носа", ANY),
    (
        "Исполнитель сообщает, что в квартире клиента пахнет газом и собака вялая, не встаёт",
        ANY,
    ),
    ("Собаку покусали, вся шея в крови, выгульщица везёт её к ветеринару", ANY),
    ("Кот наглотался таблеток, его трясёт, едем к врачу", ANY),
]

LONG_MESSAGES = [
    (
        "Здравствуйте! Пишу вам по поводу сегодняшнего визита. Ситтер Анна пришла вовремя, "
        "покормила кошек и ушла. Через полчаса я вернулась домой и увидела, что Бусинка лежит "
        "на полу и не дышит. Мы сейчас едем в клинику. Пожалуйста, свяжитесь со мной как можно "
        "скорее.\nС уважением, Марина Петрова",
        "breathing",
    ),
    (
        "Добрый вечер! Это выгульщица Светлана, заказ на корги Бублика. Вышли на прогулку в "
        "19:00, всё было спокойно. Возле парка Бублик выскользнул из шлейки и выбежал на "
        "дорогу, его сбила машина. Сейчас он лежит, дышит, но не встаёт на задние лапы. Я "
        "вызвала такси и везу его в ближайшую ветклинику на Профсоюзной. Хозяйке дозвониться "
        "не могу, пожалуйста, свяжитесь с ней.\nСветлана, +7 999 123-45-67",
        ANY,
    ),
    (
        "Здравствуйте, уважаемая служба поддержки! Мы пользуемся вашим сервисом уже полгода и "
        "всегда были довольны. Сегодня к нашей собаке Лайме приходила ситтер на дневную "
        "прогулку. Час назад я вернулась и обнаружила, что Лайма разгрызла коробку конфет, "
        "которую ситтер положила на стол, и съела почти весь шоколад. Сейчас её трясёт и "
        "рвёт, мы едем в круглосуточную клинику. Прошу срочно связаться со мной и объяснить, "
        "как такое могло произойти.\nС уважением, Елена Сергеевна Кузнецова",
        "poisoning",
    ),
    (
        "Здравствуйте. Пишу из подъезда клиента на Тверской, заказ на выгул двух такс. Когда я "
        "пришла за собаками, в квартире был мужчина, который представился братом хозяйки. Он "
        "был пьян, начал кричать, а потом схватил со стола нож и пошёл на меня. Я выбежала на "
        "лестницу, собаки остались в квартире. Мне страшно, я не знаю, что делать, хозяйка не "
        "берёт трубку. Пожалуйста, перезвоните.\nИсполнитель Дарья К.",
        "person_threat",
    ),
    (
        "Добрый день. Срочное сообщение! Соседка только что позвонила мне на работу: из нашей "
        "квартиры идёт дым, пахнет гарью на весь этаж. Дома два кота, а ситтер, по её словам, "
        "ушла полчаса назад и, похоже, оставила включённым обогреватель. Я еду домой, но буду "
        "не раньше чем через 40 минут. Пожалуйста, свяжитесь с исполнителем и вызовите "
        "пожарных, если можете!\nАнна, кв. 56",
        "fire_smoke",
    ),
    (
        "Звонок 14:32. Клиентка Иванова, кошка Мурка, 12 лет. Во время визита ситтер заметила, "
        "что у кошки начались судороги, длятся уже около 5 минут. Ситтер в квартире, кошка на "
        "полу, на кличку не реагирует. Клиентка на связи, едет домой. Требуется срочная "
        "консультация и ближайшая круглосуточная ветклиника.",
        "seizures",
    ),
    (
        "Здравствуйте. Пишу вам, потому что не знаю, к кому ещё обратиться. Сегодня утром к "
        "нашему попугаю Кеше приходила сиделка, пока мы в отъезде. Через два часа после её "
        "визита соседка, у которой запасные ключи, зашла и нашла Кешу мёртвым на дне клетки. "
        "Окно на кухне было открыто настежь, а на улице минус пятнадцать. Я требую объяснений "
        "и хочу понять, что произошло.\nОльга",
        "died",
    ),
    (
        "Добрый вечер, это Максим, ситтер на заказе у кошки Симы. Ситуация срочная. Я "
        "проветривал комнату, как просила хозяйка, и отошёл к миске буквально на минуту. Сима "
        "прыгнула на подоконник и выпала из окна, это 4 этаж. Я уже внизу, она живая, но не "
        "может встать и громко кричит. Мне везти её в клинику сразу или ждать хозяйку?\nМаксим",
        "fall_from_height",
    ),
    (
        "Добрый день! В субботу я заказала у вас передержку для собаки на неделю, пока мы в "
        "отпуске. Сегодня мне позвонила ситтер и сказала, что Рекс проглотил кость и теперь у "
        "него кровь из пасти, он отказывается от еды. Она не знает, куда ехать ночью. Я в "
        "другой стране и ничего не могу сделать! Пожалуйста, помогите ей найти клинику и "
        "держите меня в курсе.\nИгорь Смирнов",
        "swallowed",
    ),
    (
        "Доброе утро, коллеги! Ситтер Ирина, заказ №4512. Пришла к мопсу Боне в 8:00, как в "
        "карточке. Боня лежит в коридоре, дышит тяжело, с хрипом, дёсны синеватые. Хозяйка в "
        "командировке, телефон выключен. Я не знаю ближайшую круглосуточную клинику в этом "
        "районе, подскажите, куда везти.\nИрина",
        "breathing",
    ),
    (
        "Добрый день, меня зовут Павел, я выгуливаю лабрадора Джека по вторникам и четвергам. "
        "Сегодня на прогулке в парке Джек порезал лапу о битое стекло. Кровь хлещет, я "
        "перетянул лапу поводком, но повязка вся промокла. Такси уже вызвал, еду в ветклинику "
        "на Ленинском. Хозяину написал, но он не отвечает. Прошу подстраховать и дозвониться "
        "ему.\nПавел, выгульщик",
        "bleeding",
    ),
    (
        "Заметка оператора. Звонила клиентка Смирнова Т. Н., заказ передержки кота Барсика. "
        "Говорит, что исполнитель прислал фото: кот лежит на полу, не двигается, рядом лужа "
        "рвоты и разгрызенная упаковка от таблеток. Исполнитель не берёт трубку. Клиентка "
        "требует, чтобы кто-то немедленно поехал на адрес. Передано старшему менеджеру.",
        ANY,
    ),
]

# -- negative: no rule may fire ------------------------------------------------------------------
NEGATIONS = [
    ("Собаку чуть не сбила машина, но всё обошлось, выгульщик успел её оттащить", None),
    ("Машина чуть не сбила собаку, но всё обошлось", None),
    (
        "Кот упал с балкона второго этажа, но никто не пострадал, бегает как ни в чём не бывало",
        None,
    ),
    (
        "Жизни ничего не угрожает, просто хочу, чтобы вы знали: ситтер порезала коту лапу "
        "при стрижке когтей",
        None,
    ),
    ("Собака не отравилась, она просто объелась корма", None),
    ("Кошка дышит нормально, не задыхается, просто чихает", None),
    ("Пёс в сознании, бегает, кровь не идёт, ситтер просто испугалась", None),
    ("Никаких судорог не было, просто собака устала после долгой прогулки", None),
    ("Рыбка не умерла, просто спала у дна, извините за панику", None),
    ("Кот не выпал из окна, он спрятался под диваном, уже нашли", None),
    ("Ложная тревога: дыма в квартире нет, это соседи жарили шашлык, кошка спокойна", None),
    ("Пожара не было, просто сработала сигнализация от пара, кошка в порядке", None),
    ("Кот не подавился, это был просто комок шерсти", None),
    ("К счастью, собака не проглотила иголку, я успела отобрать", None),
    ("Всё хорошо, никто не умер 😊 просто кот разбил вазу", None),
    ("Собака не потерялась, выгульщица просто ушла с ней в дальний парк", None),
    ("Собаку никто не кусал, это просто царапина от куста", None),
    ("Кошка жива и здорова, ситтер зря подняла панику", None),
    (
        "Выгульщица сказала, что собака чуть не попала под машину, но она успела схватить поводок",
        None,
    ),
    ("Крови не было, ситтер просто неудачно подстригла когти, кот спокоен", None),
]

HYPOTHETICALS = [
    ("Что делать, если собака съест шоколад?", None),
    ("Если вдруг кот выпадет из окна, кто отвечает?", None),
    ("А что будет, если ситтер не заметит, что собака подавилась?", None),
    ("Подскажите, какие признаки отравления у кошек?", None),
    ("Опасно ли для кота, если он погрызёт лилию? У нас дома букет", None),
    ("Ваши исполнители проходили курс первой помощи? Вдруг собака начнёт задыхаться", None),
    ("Покрывает ли страховка случай, если питомца собьёт машина на прогулке?", None),
    (
        "На всякий случай: у нашего пса бывают эпилептические приступы, таблетки в шкафчике",
        None,
    ),
    ("Как понять, что у собаки тепловой удар?", None),
    ("Теоретически, если в квартире начнётся пожар, ситтер должен спасать кота?", None),
    ("Что делать ситтеру, если собака потеряет сознание на прогулке?", None),
    ("Если на собаку нападёт другая собака, выгульщик вмешается?", None),
    ("Собака любит грызть всё подряд. Что делать, если она проглотит носок?", None),
    ("В карточке написано: при судорогах дать таблетку из синей коробки и позвонить мне", None),
    ("Бывает ли, что собака умирает от укуса клеща? Переживаю перед поездкой", None),
    ("Скажите заранее, в какую ветклинику ситтер повезёт кота, если ему станет плохо?", None),
    ("Что будет, если ситтер забудет уколоть коту инсулин?", None),
    ("А если собака сорвётся с поводка на прогулке, выгульщик за это отвечает?", None),
    ("Вредно ли коту, если он съест немного винограда?", None),
    ("Если у кота начнутся судороги, ситтер сможет сам отвезти его в клинику?", None),
]

IDIOMS = [
    ("Чуть не умерла со смеху, когда увидела фото кота в костюме, спасибо ситтеру!", None),
    ("Убить готова за такой сервис, опять перенесли визит к собаке", None),
    ("Умираю от скуки, пока жду ситтера уже полчаса", None),
    ("У вашего оператора мёртвая зона, не дозвониться, а мне нужно перенести прогулку", None),
    ("Собака так смешно чихает, я задыхаюсь от смеха 😂", None),
    ("Ситтер мне всю кровь выпила своими опозданиями", None),
    ("Кот притворился мёртвым, когда увидел переноску 😂", None),
    ("Мне кровь из носу нужно успеть к 9, ситтер сможет прийти к собаке пораньше?", None),
    ("Я чуть не сдохла от смеха с видео от выгульщика", None),
    ("Работаю как на пожаре, можно ситтера на завтра к коту?", None),
    ("Пёс спит как убитый после прогулки, спасибо!", None),
    ("Собака до смерти испугалась пылесоса, но ситтер молодец, успокоила", None),
    ("Умираю как хочу, чтобы к нам снова пришла Катя, собака её обожает", None),
    ("Кот смертельно обиделся на ситтера, что та не дала вкусняшку 😄", None),
    ("Я чуть со стыда не сгорела, когда выгульщик при соседях орал на собаку", None),
    ("Убила бы этого ситтера, опять не помыл собаке лапы после прогулки!", None),
    ("Такой сервис меня просто убивает, третий раз переносите визит к собаке", None),
    ("Цены на передержку просто убийственные, кот столько не стоит 😅", None),
    ("Кот в обморок падает от счастья, когда приходит наша ситтер 😍", None),
]

SETTLED_AND_PAST = [
    ("В прошлом месяце собака отравилась, уже всё хорошо, хотим снова заказать выгул", None),
    ("Кот умер год назад, отмените подписку, пожалуйста", None),
    ("Лапу поранил, уже были у врача, жизни ничего не угрожает", None),
    (
        "Кошка проглотила нитку, но ветеринар осмотрел и сказал, что всё выйдет само, "
        "сейчас всё хорошо",
        None,
    ),
    ("Наша собака умерла от старости в марте, удалите её карточку", None),
    (
        "Пса покусали на прогулке на прошлой неделе, рану зашили, он идёт на поправку. "
        "Хочу обсудить компенсацию",
        None,
    ),
    ("Спасибо, кот после отравления полностью выздоровел, продлеваем передержку", None),
    ("Когда-то давно наша кошка выпала с балкона, поэтому просим не открывать окна", None),
    ("Два года назад у собаки были судороги, сейчас она здорова, но ситтер должен знать", None),
    ("Хотим оставить отзыв: месяц назад Лена спасла нашу собаку, когда та подавилась", None),
    ("Рыбка сдохла ещё на прошлой неделе, до вашего визита, вопросов к ситтеру нет", None),
    ("Щенка сбила машина прошлым летом, теперь он боится улицы, нужен опытный выгульщик", None),
    ("Кота не стало в прошлом году, больше не присылайте напоминания о прививках", None),
    (
        "Пожар в доме был давно, кот тогда выжил, просто боится запаха дыма, не зажигайте свечи",
        None,
    ),
    (
        "Пёс тяжело дышал после прогулки, но ветеринар осмотрел: это от жары, уже всё в порядке",
        None,
    ),
    (
        "Ситтер, извините, не смогу встретить, у меня папа умер, ключи у консьержа, покормите кота",
        None,
    ),
    ("Я исполнитель, у меня умерла моя собака, поэтому беру отпуск на неделю", None),
    (
        "Здравствуйте. Хочу оставить отзыв о ситтере Наталье. На прошлой неделе она пришла на "
        "два часа позже, кот всё это время сидел без воды. Потом выяснилось, что она дала ему "
        "корм, на который у него аллергия, его рвало два дня. Мы были у ветеринара, сейчас всё "
        "хорошо, но осадок остался. Прошу больше не присылать к нам этого исполнителя.\n"
        "Спасибо, Виктория",
        None,
    ),
    ("Собаку сбила машина ещё в 2021 году, у неё нет задней лапы, учтите на прогулке", None),
    (
        "Кот подавился на прошлой неделе, ветеринар всё достал, сейчас всё хорошо, "
        "вопрос по оплате",
        None,
    ),
    ("Рыбки в аквариуме давно умерли, аквариум пустой, ситтеру не нужно его чистить", None),
    ("Исполнитель оплатил лечение собаки после укуса, рана зажила, претензий нет", None),
]

UNRELATED = [
    ("Банк заблокировал карту, деньги списали дважды, верните немедленно", None),
    ("Интернет умер второй день, провайдер не отвечает", None),
    ("Телефон сдох, не могу зайти в приложение", None),
    ("Мой ноутбук умер после обновления", None),
    ("Соседи сверху опять затопили, вода хлещет по стене", None),
    ("Дедушка умер, я не смогу ответить на письмо до понедельника", None),
    ("В новостях пишут, что машина сбила пешехода на Ленинском", None),
    ("Сервер упал, сайт лежит, всё умерло", None),
    ("Приложение умерло, не могу оплатить выгул собаки", None),
    ("Телефон сдох у ситтера, поэтому он не отвечал, с собакой всё хорошо", None),
    ("Орхидея погибла, ситтер поливал её кипятком?!", None),
    ("Во время визита сдохла батарейка в замке, ситтер ждал у двери 40 минут", None),
    ("Связь с исполнителем умерла, не могу дозвониться, перенесите визит к коту", None),
    ("Фикус на подоконнике засох, ситтер забыл его полить, это не критично", None),
    ("Электронная очередь умерла, уже час не могу записаться в МФЦ", None),
    ("Зарядка сдохла, перезвоню позже", None),
    ("Бабушку положили в реанимацию, поэтому я пропустила платёж", None),
]

ROUTINE = [
    ("Здравствуйте! Хочу забронировать выгул собаки на завтра в 9 утра", None),
    ("Оплата не проходит, картой Мир можно оплатить передержку?", None),
    ("Ключи оставлю у консьержа, ситтер заберёт", None),
    ("Спасибо большое Ольге, кот доволен и сыт!", None),
    ("Можно перенести визит к кошке с пятницы на субботу?", None),
    ("Где в приложении карточка питомца? Хочу добавить, что у кота аллергия на курицу", None),
    ("Ситтер опоздал на 10 минут, ничего страшного, кот накормлен", None),
    ("Подскажите цену передержки на две недели для двух кошек", None),
    ("Визит завершён, кот поел, лоток убран, фото в чате", None),
    ("Выгульщик отчитался: погуляли 60 минут, собака сделала все дела, лапы помыли", None),
    ("Пришлите, пожалуйста, закрывающие документы за выгул собаки за прошлый месяц", None),
    ("Собака после прогулки спит, всё отлично, спасибо!", None),
    ("Можно дать коту корм из синего пакета? В карточке я забыла указать", None),
    ("Нужно отвезти кота в ветклинику на плановую прививку, может ли ситтер?", None),
    ("Ситтер пишет, что кот шипит и прячется, это нормально, он стесняется новых людей", None),
    ("Напоминаю, что собаке сегодня в 18:00 таблетку от глистов, она в карточке", None),
    ("Исполнитель: домофон не работает, жду у подъезда, откройте, пожалуйста", None),
    ("Можно ли заказать ситтера на новогодние праздники для двух котов?", None),
    ("Оставьте, пожалуйста, отзыв о прогулке в приложении 😊", None),
    (
        "Ситтер спрашивает, где лежит переноска и паспорт кота, у нас плановый визит к ветеринару",
        None,
    ),
    ("Хочу поменять исполнителя: Марина отличная, но нам удобнее утром", None),
    ("Исполнитель: покормила рыбок, проверила фильтр в аквариуме, всё работает", None),
]

POSITIVE = {"triggers": TRIGGERS, "typos": TYPOS}
POSITIVE_ANY = {"several_rules": SEVERAL_RULES, "long_messages": LONG_MESSAGES}
NEGATIVE = {
    "negations": NEGATIONS,
    "hypotheticals": HYPOTHETICALS,
    "idioms": IDIOMS,
    "settled_and_past": SETTLED_AND_PAST,
    "unrelated": UNRELATED,
    "routine": ROUTINE,
}
ALL_TABLES = {**POSITIVE, **POSITIVE_ANY, **NEGATIVE}


def _params(tables: dict[str, list[tuple[str, str | None]]]) -> list:
    return [
        pytest.param(text, expected, id=f"{name}-{n:03d}")
        for name, table in tables.items()
        for n, (text, expected) in enumerate(table)
    ]


@pytest.fixture(scope="module")
def rules() -> SafetyRules:
    return SafetyRules.load()


_WHY_NOT = ("cancelled", "idiom", "imperative")  # explain() reasons worth printing


def _describe(rules: SafetyRules, text: str, expected: str | None) -> str:
    item = prepare([text])[0]
    override = rules.check(item)
    fired = f"{override.rule} {override.matched}" if override else "nothing"
    lines = [f"text: {text!r}", f"expected: {expected}", f"fired: {fired}"]
    lines += [
        f"  {v.rule}: {'FIRED' if v.fired else 'no'} {v.matched or ''} {v.reason}"
        for v in rules.explain(item)
        if v.fired or v.rule == expected or any(w in v.reason for w in _WHY_NOT)
    ]
    return "\n".join(lines)


# -- meta checks on the tables -------------------------------------------------------------------
def test_tables_are_well_formed(rules):
    ids = {rule.id for rule in rules.rules}
    texts = [text for table in ALL_TABLES.values() for text, _ in table]
    assert len(texts) == len(set(texts)), "a text appears twice"
    for table in POSITIVE.values():
        assert all(expected in ids for _, expected in table)
    for table in POSITIVE_ANY.values():
        assert all(expected == ANY or expected in ids for _, expected in table)
    for table in NEGATIVE.values():
        assert all(expected is None for _, expected in table)


def test_every_rule_has_cases(rules):
    covered = {expected for table in POSITIVE.values() for _, expected in table}
    assert {rule.id for rule in rules.rules} <= covered


def test_enough_cases():
    positives = sum(len(t) for t in (*POSITIVE.values(), *POSITIVE_ANY.values()))
    negatives = sum(len(t) for t in NEGATIVE.values())
    assert positives + negatives >= 170
    assert 0.5 <= positives / (positives + negatives) <= 0.6


# -- the cases -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), _params(POSITIVE))
def test_rule_fires(rules, text, expected):
    override = rules.check(prepare([text])[0])
    assert override is not None, _describe(rules, text, expected)
    assert override.rule == expected, _describe(rules, text, expected)


@pytest.mark.parametrize(("text", "expected"), _params(POSITIVE_ANY))
def test_some_rule_fires(rules, text, expected):
    override = rules.check(prepare([text])[0])
    assert override is not None, _describe(rules, text, expected)
    if expected != ANY:
        assert override.rule == expected, _describe(rules, text, expected)


@pytest.mark.parametrize(("text", "expected"), _params(NEGATIVE))
def test_no_rule_fires(rules, text, expected):
    override = rules.check(prepare([text])[0])
    assert override is None, _describe(rules, text, expected)


# -- the rules file's own examples ---------------------------------------------------------------
# Quality staff edit the file; each rule's `examples` are its promises, and `complaints rules test`
# runs them the same way.
def test_every_rule_has_examples_of_both_kinds(rules):
    thin = [r.id for r in rules.rules if len(r.fire) < 2 or len(r.silent) < 2]
    assert thin == [], f"rules with fewer than two `fire` and two `silent` examples: {thin}"


def test_rule_examples_behave(rules):
    assert rules.example_failures() == []


def test_a_broken_example_is_reported(tmp_path):
    """The example check itself can fail: a `fire` example that fires nothing is named."""
    source = resources.files("pettriage.classifier.data").joinpath("safety_rules.yaml")
    text = source.read_text("utf-8")
    broken = text.replace('        - "Кот умер, муж в шоке"\n', '        - "Кот ест и играет"\n', 1)
    assert broken != text
    path = tmp_path / "rules.yaml"
    path.write_text(broken, encoding="utf-8")
    failures = SafetyRules.load(path).example_failures()
    assert failures == ["died: must fire, got no rule: «Кот ест и играет»"]


def _rules_with(tmp_path, old: str, new: str) -> Path:
    source = resources.files("pettriage.classifier.data").joinpath("safety_rules.yaml")
    text = source.read_text("utf-8")
    assert old in text
    path = tmp_path / "rules.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


SETTLED_THEN_NOW = "Собаку покусала чужая, рану зашили, а сейчас она не дышит"
SETTLED_PAST = "Собаку на прогулке покусала чужая, рану зашили, сейчас поправляется"


def test_care_already_given_cancels_a_past_trigger_but_never_one_happening_now(rules, tmp_path):
    """`spares_now` on the settled set: «рану зашили» cancels «покусала» (past, and the «сейчас»
    of another clause is the recovery's), never «не дышит» (present: now by its own verb).
    Without it, the same file lets the care silence the emergency."""
    assert rules.vocabulary.cues["settled"].spares_now
    assert rules.check(prepare([SETTLED_PAST])[0]) is None, _describe(rules, SETTLED_PAST, None)
    now = rules.check(prepare([SETTLED_THEN_NOW])[0])
    assert now is not None and now.rule == "breathing", _describe(
        rules, SETTLED_THEN_NOW, "breathing"
    )
    without = SafetyRules.load(
        _rules_with(tmp_path, "    spares_now: true", "    spares_now: false")
    )
    assert without.check(prepare([SETTLED_THEN_NOW])[0]) is None


def test_a_cue_option_that_is_not_true_or_false_is_a_clear_error(tmp_path):
    from pettriage.classifier.rulebook import RulesError

    path = _rules_with(tmp_path, "    spares_now: true", "    spares_now: да")
    with pytest.raises(RulesError, match=r"cues\.settled\.spares_now: expected true or false"):
        SafetyRules.load(path)


def test_a_near_without_words_is_a_clear_error(tmp_path):
    from pettriage.classifier.rulebook import RulesError

    path = _rules_with(
        tmp_path, "      words: [собака, пес, щенок", "      pets: [собака, пес, щенок"
    )
    with pytest.raises(RulesError, match=r"flood|near: expected 'words'"):
        SafetyRules.load(path)


@pytest.mark.parametrize(
    ("text", "fires"),
    [
        # a pet anywhere in the message is in the flooded home
        ("Тема: протечка\n\nСоседка снизу звонит, у неё течёт с потолка. Дома кошка", True),
        ("Ситтер ушла, а у нас потоп в ванной, собака заперта в спальне", True),
        # no pet in it: a neighbour's ceiling, an executor's own pipe
        ("Соседи сверху затопили, с потолка льёт, пришлите акт", False),
        ("Исполнитель звонит: у него дома прорвало трубу, ждёт сантехника", False),
        ("Ситтер сообщает: в подъезде затопило подвал, воду закрыли, визит задержится", False),
    ],
)
def test_a_flood_pages_only_with_a_pet_in_the_home(rules, text, fires):
    override = rules.check(prepare([text])[0])
    assert (override is not None and override.rule == "flood") is fires, rules.explain(
        prepare([text])[0]
    )


def test_one_event_told_twice_is_dated_by_the_telling_that_dates_it(rules):
    """«умерла из-за меня. умерла в среду» is one death, on Wednesday; a death dated today in
    its second telling still fires."""
    monday = date(2026, 12, 7)
    told_twice = "хозяин говорит собака умерла из-за меня. умерла в среду, я гулял в понедельник"
    assert rules.check(prepare([told_twice])[0], monday) is None
    dated_today = "собака умерла! вчера была вялая, а сегодня утром умерла"
    assert rules.check(prepare([dated_today])[0], monday).rule == "died"
    # a dated telling of another event («так же», «тоже») does not date the first
    also = "Кот умер. Прошлой зимой так же умерла кошка, в январе"
    assert rules.check(prepare([also])[0], monday).rule == "died"
    brother = "Собака умерла! Её брат тоже умер в мае"
    assert rules.check(prepare([brother])[0], monday).rule == "died"
    # a telling that only a sentence without a verb of its own dates is not the event's date
    weakly = "Пришла на визит, полоз в террариуме мёртвый. Позавчера у коллеги было +27. Он мёртв."
    assert rules.check(prepare([weakly])[0], monday).rule == "died"


# -- what the issue named: cues that silenced real triggers, and the window ----------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Кот умер, муж в шоке", "died"),
        ("Собака не дышит, на улице лето", "breathing"),
        ("Собака не дышит, в субботу оставили с ситтером", "breathing"),
        ("Собака истекает кровью, диагноз не знаем", "bleeding"),
    ],
)
def test_words_near_a_trigger_do_not_silence_it(rules, text, expected):
    override = rules.check(prepare([text])[0])
    assert override is not None and override.rule == expected, _describe(rules, text, expected)


FILLER_TEXT = "и мы вдвоём сидим рядом с ним на полу в большой комнате у окна весь час"
FILLER = FILLER_TEXT.split()


@pytest.mark.parametrize("kind", ["negation", "hypothetical", "settled", "unrelated"])
def test_a_cue_word_cancels_only_within_its_window(rules, kind):
    """For every cue set: a one-word cue right after «Кот умер» cancels it; the same word one
    word beyond the set's window, in the same sentence, does not."""
    cue = rules.vocabulary.cues[kind]
    singles = [p for p in cue.phrases if len(p.lemmas) == 1]
    assert singles, f"the {kind} set has no one-word cue to test with"
    word = singles[0].lemmas[0]
    assert len(FILLER) > cue.window
    near = f"Кот умер {word} {' '.join(FILLER)}"
    far = f"Кот умер {' '.join(FILLER[: cue.window])} {word}"
    near_verdict = rules.check(prepare([near])[0])
    far_verdict = rules.check(prepare([far])[0])
    assert near_verdict is None, _describe(rules, near, None)
    assert far_verdict is not None and far_verdict.rule == "died", _describe(rules, far, "died")


@pytest.mark.parametrize(
    ("text", "fires"),
    [
        # Sunday, read on Tuesday: «воскресенье» was lemmatized «воскресение» and read as today
        ("В субботу его начало рвать, в воскресенье ночью он умер в ветклинике.", None),
        ("весной соседская собака отравилась", None),
        ("летом кот выпал с балкона", None),
        ("Собака не дышит, на улице лето", "breathing"),  # a noun, not the time of the event
        # read on a Sunday: «в воскресенье» of a past fall is a week ago (a writer says
        # «сегодня» of today), but the state it left is now
        ("в воскресенье кот выпал с балкона, он не двигается", "unconscious"),
        ("Кошка умерла в воскресенье, сегодня тоже воскресенье", None),
        ("Куда ехать в воскресенье вечером?? помогите, кот истекает кровью", "bleeding"),
        # a span of days: «спустя», «прошло», «через … после», and the story's own date
        ("Пишу спустя десять дней, раньше не могла. Наш кот погиб на прогулке.", None),
        ("Прошло пять дней с того утра, когда наш пёс умер на прогулке.", None),
        ("16 сентября у нас умерла шиншилла. Ситтер не заметила. Спасти не удалось.", None),
        # a story dated before does not date a state of now, nor does a plan or a rating
        ("В пятницу был визит ситтера. Сейчас кот лежит и не дышит.", "breathing"),
        ("По карточке срок через две недели. Щенок застрял, собака кровит.", ANY),
        ("Визит на 1/5. Кот выпал с балкона, девятый этаж.", "fall_from_height"),
        ("Вчера ситтер не пришла. Кот умер.", "died"),  # «вчера» is close: not carried over
        # …and from an earlier clause of the same sentence, for a past trigger only
        ("Десять дней назад ситтер подрезала когти попугаю, шла кровь, еле остановили.", None),
        ("Неделю назад ситтер дала не тот корм, а сейчас кот не дышит", "breathing"),
        ("Вчера ситтер не закрыла окно, кот выпал с балкона", "fall_from_height"),
    ],
)
def test_weekdays_and_seasons_date_the_event(rules, text, fires):
    from datetime import date

    received = date(2025, 11, 25) if "субботу" in text else date(2025, 11, 30)  # Tue / Sun
    found = rules.check_texts([text], [received])[0]
    if fires == ANY:
        assert found is not None, _describe(rules, text, fires)
    else:
        assert (found.rule if found else None) == fires, _describe(rules, text, fires)


MONDAY, TUESDAY, SATURDAY = "2026-12-07", "2026-12-08", "2026-12-05"


@pytest.mark.parametrize(
    ("text", "received", "fires"),
    [
        # a weekend read on a working day is not today; read on a weekend it may be
        ("свинка морская умерла на выходных, ситтер кормила одной капустой", TUESDAY, None),
        ("на прошлых выходных кот выпал с балкона, ситтер не закрыла окно", MONDAY, None),
        ("Кот умер на выходных у ситтера", SATURDAY, "died"),
        ("Кот выпал с балкона, на выходных уезжаем, что делать", TUESDAY, "fall_from_height"),
        ("Беру выходной, кот выпал с балкона", TUESDAY, "fall_from_height"),
        # a day of the month: «6-го числа», «12-го октября»; an ordinal floor is not a date
        ("6-го числа ситтер оставила окно открытым. Кот выпал с балкона.", MONDAY, None),
        ("12-го октября кот умер, ситтер не дала лекарство", MONDAY, None),
        ("12-го числа ситтер приходила, а сегодня кот выпал с балкона", MONDAY, "fall_from_height"),
        ("Кот упал с 12-го этажа, ситтер открыла окно", MONDAY, "fall_from_height"),
        # part of another month
        ("Кошка умерла в конце октября, почки, ситтерам спасибо", MONDAY, None),
        ("В начале мая кот выпал с балкона", MONDAY, None),
        # a weekday read with the verb it is said with, for a trigger without a verb
        ("ваш ситтер в пятницу дал траву, в понедельник она умерла. отравление.", MONDAY, None),
        # what was told happened no later than the telling
        ("Вчера клиентка написала мне, что собака умерла в клинике.", MONDAY, None),
        ("Сейчас клиентка написала, что собака умерла", MONDAY, "died"),
        ("Клиентка написала мне, что собака умерла", MONDAY, "died"),
        # a relative clause interrupting what is told says of what it tells
        ("Мне только что написали, что кот, у которого была на прошлой неделе, умер", MONDAY, None),
        ("Мне только что написали, что кот, у которого я сейчас на визите, умер", MONDAY, "died"),
        ("Кот, которого я кормила, только что умер", MONDAY, "died"),
        # the present of a saying is not the time of what is said
        ("кошка умерла позавчера. врач говорит отравление, а ситтер мыл пол хлоркой", MONDAY, None),
        ("Кошку рвёт, врач говорит отравление", MONDAY, "poisoning"),
        # a part of the day is a part of the story's day
        ("3 марта приходила ситтер. Вечером кот лежал. Ночью в клинике он умер.", MONDAY, None),
        ("Ситтер была вечером. Ночью кот умер.", MONDAY, "died"),
        (
            "В конце октября собака что-то подобрала. Вечером начались судороги, ночью умерла.",
            MONDAY,
            None,
        ),
        # a weekday opening a clause without a verb is said with its sentence's verb
        (
            "В субботу, после визита, кот выпал из окна. Он не мог встать, отвезли в клинику.",
            MONDAY,
            None,
        ),
        (
            "В субботу, после визита, окно осталось открытым. Сейчас кот не может встать.",
            MONDAY,
            "unconscious",
        ),
        # «это произошло …» dates the event told before it
        ("Кошка выпала с балкона и скончалась в клинике. Это произошло 23 мая.", MONDAY, None),
        ("Кот умер у ситтера. Это случилось только что", MONDAY, "died"),
        # a bare day of the month ending its clause; a floor is not a day
        ("Клиентка сообщила, что кошка умерла 10-го, и винит ситтера", MONDAY, None),
        ("Кот упал с 5-го этажа, лежит и не встаёт", MONDAY, "fall_from_height"),
        # how long ago, counted to the writing
        ("Почему молчите по заказу, при котором умерла моя кошка? 2 недели прошло!!", MONDAY, None),
        # a story dated today by its last time word is today's, not today for want of a word:
        # the writer's «претензий не имею» (which spares a death of today) does not silence it
        (
            "Прогулка сегодня с 18 до 19. Пёс умер на прогулке, выгульщику претензий не имею",
            MONDAY,
            "died",
        ),
        ("Пёс умер на прогулке, выгульщику претензий не имею", MONDAY, None),
        # and a claim for money does not silence a death the message dates today
        (
            "Сегодня ситтер была с 14 до 15. Потом хорёк был мёртв. Требую вернуть деньги",
            MONDAY,
            "died",
        ),
        ("Хорёк был мёртв после визита. Требую вернуть деньги", MONDAY, None),
    ],
)
def test_the_time_of_a_story(rules, text, received, fires):
    from datetime import date

    found = rules.check_texts([text], [date.fromisoformat(received)])[0]
    assert (found.rule if found else None) == fires, _describe(rules, text, fires)


@pytest.mark.parametrize(
    ("text", "fires"),
    [
        # a cue word outside the dictionary matches as the rules file wrote it
        ("Прочитала в телеграме, что погибли две кошки", None),
        ("Ветеринар в телеграме ответил, собака не дышит!", "breathing"),
        # the idioms with their cause first, and a trick
        ("Мы со смеху умирали, когда ситтер прислала фото", None),
        ("Хомяк притворяется мёртвым, когда открывают клетку", None),
        ("Хомяк лежит мёртвым в клетке", "died"),
        # care already given, and a question about what to do
        ("У кошки на лапе нашли ожог. Ожог небольшой, уже обработали у врача", None),
        ("У кошки ожог, уже обработали, а сейчас она не дышит", "breathing"),
        ("Тема: Вопрос о действиях при отравлении", None),
        # a hyphenated word of the rules file is cut as a message's is («что-то»: что, то)
        ("Собака на прогулке съела что-то с земли", "poisoning"),
        ("На кухне что-то горит, кот дома", "fire_smoke"),
        ("Внутри кто-то ходит, слышу голоса, кот там", "person_threat"),
        ("У кого-то есть запасные ключи от квартиры клиента?", None),
        ("ситтер душнила, весь визит читала мне лекции", None),
        # laughter in the sentence, and a death that is not the service's doing
        ("Ситтер прислала фото, кот лежит как труп на подоконнике 😂 объелся", None),
        ("Кот прямо сейчас умер у меня на руках 😂", "died"),  # never a joke about now
        ("Это не шутка, кот умер у ситтера", "died"),
        ("Рыбка умерла, вы тут ни при чём, для них это старость", None),
        # «не ваша вина» is no sign of when or where: a death at the visit stays critical
        ("Кот умер у ситтера на визите, она тут ни при чём, он болел", "died"),
        ("Когда у нас умерла кошка (не в её смену), Оля помогла с похоронами", None),
        # a negation after the trigger, past an adverb; a plan for the case
        ("Судорог пока не было, собака в порядке, просто уточняю дозу", None),
        ("Судороги у собаки пока не прекращаются, что делать", "seizures"),
        ("Есть ли у ситтеров инструкция на случай пожара?", None),
        # a stranger who followed the sitter in
        ("Какой-то парень зашёл за мной в квартиру и не уходит, я в ванной", "person_threat"),
        # a chocolate bar, scalding, a twisted wing, a blow to the face
        ("Собака съела целую шоколадку, минут двадцать назад", "poisoning"),
        ("Ситтер ошпарила кота кипятком, он орёт", "bleeding"),
        ("Попугай врезался в стекло, крыло вывернуто", "bleeding"),
        ("Хозяин пьяный, ударил по лицу, стоит между мной и дверью", "person_threat"),
        ("после прогулки мойте лапы, полотенце висит у двери", None),
        # a cue said with a negation of its own is not the cue; a claim for money is one anyway
        ("Кошка после прививки так и не поправилась и умерла", "died"),
        ("Кошка после прививки поправилась, но всё равно умерла в прошлом месяце", None),
        ("Почему не вернули деньги за заказ, при котором умерла моя кошка?", None),
        # the news is never our event, even told in the present; a sitter's chat still is
        ("В новостях писали, что в парке разбросали отраву, собаки умирают", None),
        ("Ветеринар в телеграме ответил, собака не дышит, что делать", "breathing"),
        ("Прочитала в интернете, что делать, а собака задыхается и хрипит", "breathing"),
        ("Плохая новость: кот не дышит, ситтер делает массаж", "breathing"),
        ("У меня плохая новость — кот умер на визите", "died"),
        # a vet's all-clear after the state settles it; one before it is older than the state,
        # and a state of now is never settled by it («не встаёт! вчера врач сказал всё хорошо»)
        (
            "Кот объелся и лежал пластом, ветеринар посмотрел, сказал просто переел, всё хорошо",
            None,
        ),
        ("Кот лежит пластом и не встаёт! Вчера врач сказал всё хорошо", "unconscious"),
        ("Врач вчера сказал всё хорошо, а сейчас кот лежит пластом и не встаёт", "unconscious"),
        # a thread and needle eaten, a paw caught in the bars
        ("Ситтер пишет: кошка съела нитку с иголкой, нитка торчит изо рта", "swallowed"),
        ("Попугай застрял лапой в решётке и висит вниз головой, кричит", "swallowed"),
        ("Тема: кот съел нитку — вопрос не срочный. Просто хочу знать на будущее", None),
        # states and places that had no phrase: every kind of pet
        ("Рыбки все всплыли, в аквариуме отключился компрессор", "died"),
        ("Пёс лежит в луже рвоты, живот раздут как барабан", "dying"),
        ("Кот клиента выпрыгнул в окно за птицей, третий этаж", "fall_from_height"),
        ("Морская свинка судорожно дёргается и заваливается на бок", "unconscious"),
        ("Попугай упал на дно клетки, крылья раскинуты, клюв открыт", "unconscious"),
        ("Игуана лежит на спине и не переворачивается", "unconscious"),
        ("короче кот застрял в стиральной машине головой я не могу достать", "swallowed"),
        ("Лабрадор упал на прогулке, жара, не встаёт, язык синюшный", "breathing"),
        ("Шиншилла упала с полки, лежит и дёргается, глаза закатились", "unconscious"),
        ("Мастиф клиента прокусил мне бедро, кровь течёт сильно, скорую вызвала", "bleeding"),
        ("Ситтер позвонила и сказала, что Тимоша не проснулся", "died"),
        ("Сработала сигнализация, ситтер всё выключила, кот даже не проснулся 😄", None),
        ("В аквариуме все рыбы сварились, ситтер выкрутила нагреватель", "died"),
        ("Мимо шёл ветврач, подтвердил смерть, выгульщица сидит с ней", "died"),
        ("Мила выскользнула из шлейки и носится по Ленинскому проспекту", "on_the_ledge"),
        # «X больше нет» at the end of its clause, not a pet's food or strength
        ("Пса клиента больше нет. Самокатчик влетел в нас на тротуаре", "died"),
        ("Жабы больше нет. Ситтер поставила террариум под кондиционер. Сегодня.", "died"),
        ("у кота больше нет корма, купить по пути?", None),
        ("Корма у кота больше нет.", None),
        ("Тут у клиентки одна гуппи сдохла, лежит на дне", "died"),
        # not ours after all; half a year ago; hairballs; the executor's own pet
        ("Сосед видел, как во дворе собака попала под машину, но это была не наша", None),
        ("Кошка полгода назад отравилась лилиями, с тех пор никаких цветов", None),
        ("Кот наглотался шерсти и его рвало, для него это обычное дело", None),
        # a client who cancels visits after a death may be telling of one during the service
        ("Кот умер у ситтера на визите, отменяю все визиты", "died"),
        ("кот упал с девятого этажа жив но не встаёт срочно", "fall_from_height"),
        # the news names a pet and its owners from outside
        ("Пёс по кличке Рекс выпал из окна девятого этажа, пока хозяева были в отпуске.", None),
        ("В Подольске собака погибла после прогулки. Хозяйка животного винит догситтера.", None),
        ("Полицейские проводят проверку: выгульщица упустила хаски, та попала под машину.", None),
        # the executor's own home, the reason a visit will not happen; a client on the way
        ("Не смогу выйти на визиты утром, у меня дома затопило, жду аварийку", None),
        (
            "Я на работе, не смогу прийти домой раньше восьми, а дома пожар, кот внутри",
            "fire_smoke",
        ),
        ("Дома потоп, клетка с кроликом на полу, не смогу приехать раньше часа", "flood"),
        # in water and cannot get out
        ("Пёс в реке, не может выбраться на берег, его сносит течением", "on_the_ledge"),
        # «пишут что» is a rumour; «ситтер пишет что …» is a report
        ("Пишут что в соседнем дворе собака отравилась", None),
        ("ситтер пишет что собака не дышит, я за рулём", "breathing"),
        ("выгульщик писал что собаку сбила машина, она не встаёт", "hit_by_vehicle"),
        # the present of what was told in the past is not now: care given since may settle it
        ("Ситтер написала, что собака не дышит", "breathing"),
        ("Утром я вам писала, что пёс тяжело дышит. Съездили в клинику, сейчас все хорошо", None),
    ],
)
def test_cues_and_idioms(rules, text, fires):
    found = rules.check_texts([text])[0]
    assert (found.rule if found else None) == fires, _describe(rules, text, fires)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Прошла неделя. Кот лежал на полу холодный, ситтер не заметила.", "Прошла неделя"),
        ("В субботу вернулись, а попугай лежал на дне клетки, окно было открыто", "субботу"),
        ("Это произошло 23 мая: собаку сбили у ветклиники", "23 мая"),
        # a weekday in a clause without a verb, said with its sentence's past verb
        ("В четверг утром, после визита в среду, нашли попугая на полу клетки", "четверг"),
        # now, today or a present state: the model's critical stands
        ("Прошла неделя с визита. Кот лежит на полу холодный, не реагирует", None),
        ("В субботу была ситтер, сейчас попугай на дне клетки", None),
        # a request is no state of now
        ("Прошу отменить подписку: кошка лежала без движения 28 ноября", "28 ноября"),
        # «вчера» may be the day of the visit, and a review may be written the same hour
        ("Вчера вечером кот не вставал, ситтер ушла", None),
        ("Оценка 1. Вернулась после визита, кролик на полу без движения", None),
    ],
)
def test_a_message_told_later(rules, text, words):
    """`told_later`: what stands down the model's own `critical` (no rule fired) to `high`."""
    from datetime import date

    found = rules.told_later(prepare([text])[0], date.fromisoformat(TUESDAY))
    assert (" ".join(found.words) if found else None) == (words and words.lower())


def test_every_phrase_of_the_file_matches_its_own_words(rules):
    """A phrase is cut and lemmatized as a message is: «кто-то ходить» was kept one word while
    a message's «кто-то» is two, and «съесть что-то», «что-то гореть» never matched anything."""
    import yaml

    from pettriage.classifier.phrases import find_phrase
    from pettriage.classifier.rulebook import phrase

    source = resources.files("pettriage.classifier.data").joinpath("safety_rules.yaml")
    data = yaml.safe_load(source.read_text("utf-8"))
    texts = [t for rule in data["rules"] for t in rule["phrases"]]
    texts += [t for cue in data["cues"].values() for t in cue.get("phrases", [])]
    texts += [
        t
        for key, words in data["time"].items()
        if key not in ("months", "weekdays")
        for t in words
        if isinstance(words, list)
    ]
    texts += data["idioms"]
    assert len(texts) > 900
    items = prepare([t.replace("=", "").removesuffix(" $") for t in texts])
    dead = [
        t
        for t, item in zip(texts, items, strict=True)
        if not find_phrase(item.tokens, phrase(t), rules.lexicon, rules.vocabulary.gap)
    ]
    assert dead == []


def test_the_typo_lookup_keeps_a_bounded_number_of_words():
    """A service meets new unknown words for as long as it runs; the cache of their lookups
    had no bound."""
    from pettriage.classifier.phrases import LOOKUP_CACHE_SIZE, FuzzyLexicon

    lexicon = FuzzyLexicon({"отравиться"})
    for n in range(LOOKUP_CACHE_SIZE + 50):
        lexicon.lookup(f"слово{n}")
    assert lexicon.lookup("отравитса") == frozenset({"отравиться"})
    assert FuzzyLexicon.lookup.cache_info().currsize <= LOOKUP_CACHE_SIZE


def test_the_typo_index_finds_what_one_edit_finds(rules):
    """The compact deletion index (hashes in an array, issue 16's memory) finds, for every
    word, exactly the trigger lemmas a brute-force comparison with every inflected form finds:
    one letter inserted, deleted or replaced, the same first letter or a confused vowel."""
    import random

    from pettriage.classifier.phrases import _deletions, _same_start

    index = rules.lexicon.by_deletion
    alphabet = "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"
    rng = random.Random(7)
    words = []
    for form, _ in rng.sample(index.entries, 60):
        i = rng.randrange(len(form))
        words += [
            form,
            form[:i] + form[i + 1 :],  # a letter lost
            form[:i] + rng.choice(alphabet) + form[i:],  # a letter added
            form[:i] + rng.choice(alphabet) + form[i + 1 :],  # a letter changed
        ]
    words += ["собака", "приложение", "абракадабра", "qwerty"]

    def one_edit(form: str, word: str) -> bool:
        if abs(len(form) - len(word)) > 1 or not _same_start(form, word):
            return False
        return form == word or bool({form, *_deletions(form)} & {word, *_deletions(word)})

    for word in words:
        expected = frozenset(lemma for form, lemma in index.entries if one_edit(form, word))
        if len(word) < 4:
            expected = frozenset()
        assert rules.lexicon.lookup.__wrapped__(rules.lexicon, word) == expected, word


@pytest.mark.parametrize(
    ("text", "read"),
    [
        # the alarming words read as a joke, an idiom, the news, a vet's all-clear, a question
        ("Кот весь вечер лежит как мёртвый, утомился от игр с ситтером", "as an idiom"),
        ("Кот объелся и лежал пластом, ветеринар посмотрел, сказал просто переел", "all_clear"),
        ("В новостях писали, что в парке разбросали отраву, собаки умирают", "news cue"),
        ("Как понять, что собака отравилась? Хочу знать заранее", "hypothetical"),
        # a condition is read by the time decision, which can be wrong in a live emergency
        ("Что делать, если собака съест шоколад? Хочу, чтобы выгульщик знал", None),
        # a negation, care given or a time say less of the words: the model's critical stands
        ("Кот не отравился, просто переел", None),
        ("Собаку покусала чужая, рану зашили", None),
        ("Кошка умерла 10 ноября, ситтер была у нас накануне", None),
        # `dismisses_message`: laughter, the news or an all-clear anywhere in a message no rule
        # fires on, with no trigger at all for the model's critical to come from
        ("ха ха смотрю камеру собака лежит на спине лапы кверху храпит", "joke cue «ха ха»"),
        ("Съел колбасу с земли, промыли желудок. Анализы в норме, спит", "all_clear cue"),
        # the news is told of a live state the rules have no word for: the model's critical
        # stands (set v3-news: every such emergency was stood down while the news counted a
        # sentence away, or anywhere)
        ("В новостях писали, что в парке собаки погибли. Сейчас его трясёт, лежит на боку", None),
        ("Ситтер закрыла сфинкса на лоджии, там -12. В новостях недавно было про такое", None),
        # a condition or care given speak of their own clause only
        ("В карточке написано гулять без поводка нельзя, а она отпустила его у дороги", None),
        ("Рану зашили. Он лежит на боку и тяжело дышит", None),
        # pasted news: the rules do not read it, and the model's critical stands down too,
        # unless another sentence says now
        (
            "Прочитала статью: «В Химках собаку сбила машина. Хозяйка была рядом». Вы страхуете?",
            "in pasted news",
        ),
        (
            "Прочитала статью: «В Химках собаку сбила машина. Хозяйка была рядом». "
            "А сейчас наш лежит и трясётся",
            None,
        ),
    ],
)
def test_what_the_rules_dismiss_stands_the_models_critical_down(rules, text, read):
    """`SafetyRules.dismissed`: for a message no rule fires on, whether the rules read its
    alarming words as not an emergency at all (then the model's own `critical` is `high`)."""
    item = prepare([text])[0]
    assert rules.check(item, date(2026, 12, 7)) is None
    said = rules.dismissed(item, date(2026, 12, 7))
    assert (said is None) if read is None else (said is not None and read in said), said


@pytest.mark.parametrize(
    "text",
    [
        "я сейчас просто сдохну от этой жары, можно выгул перенести на вечер",
        "Я щас умру, третий раз переносите выгул собаки",
        "Сдохну я с вашим приложением, опять не грузится карточка кота",
    ],
)
def test_the_writers_own_death_is_a_figure_of_speech(rules, text):
    """`skip_first_person` on died and dying: nobody reports their own death."""
    item = prepare([text])[0]
    assert rules.check(item, date(2026, 12, 7)) is None, _describe(rules, text, None)
    assert rules.check(prepare(["Собака сейчас умирает, что делать"])[0]).rule == "dying"


@pytest.mark.parametrize(
    ("text", "fires"),
    [
        # undated: the client's «претензий не имею» says it was not the service's doing
        ("Рыбки сдохли, пока мы были в отпуске, там какая-то болезнь. Претензий не имею", False),
        ("Попугай умер, ветеринар сказал сердце. Вины ситтера нет, просто сообщаю", False),
        # dated today or now, a death at the visit pages whoever the client blames
        ("Кот умер сегодня утром при ситтере. Претензий не имею, но что делать?", True),
        ("Пёс умирает прямо сейчас у выгульщицы на руках. Претензий нет, помогите", True),
    ],
)
def test_a_death_the_client_blames_on_nobody(rules, text, fires):
    """`spares_today` on the no_claim set: it cancels only a death the time decision takes as
    today for want of a word, never one dated now or today."""
    item = prepare([text])[0]
    assert (rules.check(item, date(2026, 12, 7)) is not None) == fires, _describe(rules, text, None)


@pytest.mark.parametrize(
    ("text", "fires"),
    [
        # illness, old age, the owner beside it, the executor's own pet: not the service's doing
        ("Ночью умер наш пёс, ему было 15, от старости. Отмените прогулки на неделю", False),
        ("отмените визит пожалуйста. кошка ночью умерла(( она давно болела", False),
        ("Сегодня днём умерла Фрося, уснула на лежанке. Мы были рядом. Спасибо Игорю", False),
        ("Это Алиса, исполнитель. Ночью умерла моя собака. Прошу снять меня с заказов", False),
        # the same words with the service there when it happened
        ("Собака умерла на прогулке. Сердце, ей было 12, она старенькая. Перезвоните", True),
        ("Ночью умер наш пёс, он давно болел, но после визита ситтера не вставал", True),
        # said to happen now: «давно болела» does not take it back
        ("Кошка умирает прямо сейчас, она давно болела, ситтер рядом, что делать", True),
    ],
)
def test_a_death_of_illness_or_old_age(rules, text, fires):
    """The natural set cancels a death it names a cause or place of that is not the service's
    (`unless` the message says the service was there when it happened)."""
    item = prepare([text])[0]
    assert (rules.check(item, date(2026, 12, 7)) is not None) == fires, _describe(rules, text, None)


def test_a_cue_sets_unless_phrases_void_it(rules, tmp_path):
    text = "Собака умерла на прогулке. Видимо сердце, ей было 12. Перезвоните"
    assert rules.check(prepare([text])[0], date(2026, 12, 7)).rule == "died"
    without = SafetyRules.load(_rules_with(tmp_path, " на =прогулке,", ""))
    assert without.check(prepare([text])[0], date(2026, 12, 7)) is None, _describe(
        without, text, None
    )


def test_putting_a_pet_to_sleep_is_not_a_death_the_rules_page():
    """«усыпить» left the died rule: it is the owner's and a vet's decision (session 35)."""
    texts = ["Кошку сегодня утром усыпили, сейчас не можем никого видеть дома"]
    assert SafetyRules.load().check_texts(texts) == [None]


@pytest.mark.parametrize(
    ("text", "cited"),
    [
        # several sentences in «…», the press beside them: pasted news
        ("Смотрите статью: «Собака погибла у передержки. Хозяйка в суде». Жуть", True),
        ("«Кот выпал с 9 этажа. Его нашли соседи» — пишет районный портал", True),
        # a word a client's own message has too is not the press
        ("Пишу через сайт: «Пришла домой. Кот не дышит, лежит у миски»", False),
        # the outlet's own «…» inside the story does not end it
        ("Новость: «Зооняня дала кошке «человеческое» лекарство. Кошка в реанимации». Ужас", True),
        # one sentence: quoted words already, not pasted news
        ("Прочитала новость «собака погибла у ситтера», это правда?", False),
        # no press beside a long quote: a client's own words
        ("Клиентка говорит: «Пришла, кот не дышит. Ситтер ушла час назад»", False),
        # an unclosed quote quotes nothing
        ("Статья: «Собака погибла. Хозяйка плачет. И ещё", False),
    ],
)
def test_pasted_news_is_a_long_quote_the_press_frames(rules, text, cited):
    from pettriage.classifier.safety import pasted_news

    item = prepare([text])[0]
    inside = pasted_news(item, rules.vocabulary.press)
    assert bool(inside) == cited, [item.tokens[j].text for j in sorted(inside)]
    if cited:  # only words inside the quote
        assert not any(item.tokens[j].text in {"смотрите", "жуть", "ужас", "пишет"} for j in inside)
